"""Native memory of the inference service: the batcher trims the heap when idle (never while a request waits)
and keeps answering; a trim really gives fragmented free memory back to the OS; the oneDNN kernel cache is
bounded before torch loads."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import psutil
import pytest
from salesai.inference.v1 import inference_pb2, inference_pb2_grpc

from models.config import ModelSettings
from services.common import memory
from services.inference.batcher import MicroBatcher
from services.inference.config import InferenceSettings
from services.inference.server import create_server

glibc_only = pytest.mark.skipif(not memory.available(), reason="malloc_trim is glibc's")


def _echo(key: object, requests: list[tuple[object, list[str]]]) -> list[list[str]]:
    return [[f"{key}:{t}" for t in texts] for _, texts in requests]


class IdleSpy:
    """An ``on_idle`` that records when it ran and whether the worker had a request waiting meanwhile."""

    def __init__(self, batcher_ref: list[MicroBatcher], fail: bool = False) -> None:
        self.times: list[float] = []
        self.queued_during: list[int] = []
        self.batcher_ref = batcher_ref
        self.fail = fail

    def __call__(self) -> None:
        self.times.append(time.monotonic())
        self.queued_during.append(self.batcher_ref[0]._queue.qsize())
        if self.fail:
            raise RuntimeError("housekeeping broke")


def _batcher(spy_fail: bool = False, **options: float) -> tuple[MicroBatcher, IdleSpy]:
    ref: list[MicroBatcher] = []
    spy = IdleSpy(ref, fail=spy_fail)
    batcher = MicroBatcher(_echo, max_wait_ms=0, on_idle=spy, **options)
    ref.append(batcher)
    return batcher, spy


def test_idle_housekeeping_runs_once_after_work_and_never_before_any() -> None:
    batcher, spy = _batcher(idle_after_ms=20, idle_interval_s=0)
    time.sleep(0.15)
    assert spy.times == []  # nothing ran yet: nothing to clean up
    assert batcher("k", ["a"], timeout=5) == ["k:a"]
    time.sleep(0.15)
    assert len(spy.times) == 1 and batcher.idle_runs == 1  # once per idle spell, not every 20 ms
    assert batcher("k", ["b"], timeout=5) == ["k:b"]
    time.sleep(0.15)
    batcher.close()
    assert len(spy.times) == 2
    assert spy.queued_during == [0, 0]


def test_steady_traffic_gets_housekeeping_at_most_once_per_interval() -> None:
    batcher, spy = _batcher(idle_after_ms=5, idle_interval_s=0.2)
    started = time.monotonic()
    while time.monotonic() - started < 1.0:  # a call every 20 ms: each gap is longer than idle_after
        assert batcher("k", ["x"], timeout=5) == ["k:x"]
        time.sleep(0.02)
    batcher.close()
    assert 2 <= len(spy.times) <= 6
    gaps = [b - a for a, b in zip(spy.times, spy.times[1:], strict=False)]
    assert all(gap >= 0.19 for gap in gaps)


def test_a_failing_housekeeping_call_does_not_stop_the_worker() -> None:
    batcher, spy = _batcher(spy_fail=True, idle_after_ms=10, idle_interval_s=0)
    for text in ("a", "b", "c"):
        assert batcher("k", [text], timeout=5) == [f"k:{text}"]
        time.sleep(0.08)
    batcher.close()
    assert len(spy.times) == 3


@glibc_only
def test_trim_gives_fragmented_free_memory_back_to_the_os() -> None:
    """64 KiB blocks come from the heap (below glibc's mmap threshold); freeing every other one leaves holes
    that glibc keeps, since only the top of a heap shrinks by itself. The allocation runs on a fresh thread,
    as torch's does on the batcher's, in its own arena."""
    process = psutil.Process()
    held: dict[str, int] = {}

    def fragment() -> None:
        blocks = [bytearray(b"\x01") * (64 * 1024) for _ in range(3000)]  # ~190 MiB, every page written
        del blocks[::2]
        held["before"] = process.memory_info().rss
        time.sleep(0.2)
        held["idle"] = process.memory_info().rss
        memory.trim()
        held["after"] = process.memory_info().rss
        del blocks

    worker = threading.Thread(target=fragment)
    worker.start()
    worker.join(30)
    assert held["idle"] > held["before"] - 16 * 2**20  # glibc does not give the holes back by itself
    assert held["before"] - held["after"] > 64 * 2**20  # the trim does (~95 MiB of holes)


@glibc_only
def test_heap_stats_see_live_blocks() -> None:
    before = memory.heap_stats()
    blocks = [bytearray(b"\x01") * (16 * 1024) for _ in range(2000)]
    during = memory.heap_stats()
    assert before is not None and during is not None
    assert during.in_use - before.in_use > 24 * 2**20
    del blocks


def test_kernel_cache_limit_is_a_default_the_environment_can_override() -> None:
    env: dict[str, str] = {}
    assert memory.limit_kernel_cache(64, env) == "64" and env == {"LRU_CACHE_CAPACITY": "64"}
    operator = {"LRU_CACHE_CAPACITY": "512"}
    assert memory.limit_kernel_cache(64, operator) == "512"
    assert memory.limit_kernel_cache(None, {}) is None


@pytest.mark.parametrize("service", ["inference", "leads"])
def test_the_launcher_sets_the_kernel_cache_before_torch_loads(service: str) -> None:
    """oneDNN reads its cache size once: a service's entry point must not import torch before setting it."""
    probe = (
        "import builtins, os, sys\n"
        "real = builtins.__import__\n"
        "def watch(name, *a, **k):\n"
        "    if name == 'torch' or name.startswith('torch.'):\n"
        "        assert os.environ.get('LRU_CACHE_CAPACITY'), 'torch imported before the kernel cache was bounded'\n"
        "    return real(name, *a, **k)\n"
        "os.environ.pop('LRU_CACHE_CAPACITY', None)\n"
        "builtins.__import__ = watch\n"
        f"import services.{service}.__main__\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]


# --- the real service: it trims between requests and keeps answering --------------------------------------------

TEXTS = [
    "预算冻结了，报价先暂停吧",
    "Could you send the price list for 50 seats, and tell us whether the annual plan includes onboarding?",
    "这个 proposal 我们老板还在 review，等他签字以后再安排下一次会议，预计下周三之前会有结果" * 2,
]


@pytest.fixture
def stub(encoder, secrets_env, tmp_path: Path) -> Iterator[tuple[object, inference_pb2_grpc.InferenceServiceStub]]:
    data = Path(secrets_env["SALESAI_DATA_DIR"])
    settings = InferenceSettings(
        port=0, data_dir=data, trim_idle_ms=20, trim_interval_s=0, models=ModelSettings(data_dir=data)
    )
    server, port = create_server(settings, encoder=encoder)
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield server.hosted[0].servicer.core, inference_pb2_grpc.InferenceServiceStub(channel)
    server.stop(0)


def test_the_service_trims_between_requests_and_keeps_answering(stub) -> None:
    core, client = stub
    first = None
    for round_ in range(3):
        runs = core.batcher.idle_runs
        for size in (1, 3):
            reply = client.Classify(
                inference_pb2.ClassifyRequest(tenant_id="acme", texts=TEXTS[:size], explain=True), timeout=60
            )
            assert len(reply.results) == size
        labels = [[p.label for p in row.predictions] for row in reply.results]
        first = first or labels
        assert labels == first  # trimming never changes an answer
        deadline = time.monotonic() + 5
        while core.batcher.idle_runs == runs and time.monotonic() < deadline:
            time.sleep(0.02)
        assert core.batcher.idle_runs > runs, f"no idle trim after round {round_}"
