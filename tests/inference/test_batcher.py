"""The micro-batcher: concurrent calls share a pass, live calls go before background work, errors reach every
caller, and closing fails what is left instead of hanging."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.common.errors import InvalidArgument, Unavailable
from services.inference.batcher import BACKGROUND, LIVE, MicroBatcher


class Recorder:
    """A run function that records each pass (key, texts) and can be held to build a queue behind it."""

    def __init__(self) -> None:
        self.passes: list[tuple[object, list[str]]] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, key: object, requests: list[tuple[object, list[str]]]) -> list[list[str]]:
        self.gate.wait(10)
        self.passes.append((key, [t for _, texts in requests for t in texts]))
        return [[f"{key}:{payload or ''}{t}" for t in texts] for payload, texts in requests]


def test_concurrent_calls_with_the_same_key_share_a_pass() -> None:
    run = Recorder()
    batcher = MicroBatcher(run, max_batch_size=32, max_wait_ms=50)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: batcher("k", [f"t{i}"]), range(8)))
    batcher.close()
    assert results == [[f"k:t{i}"] for i in range(8)]
    assert len(run.passes) < 8  # at least some calls were batched together
    assert sorted(t for _, texts in run.passes for t in texts) == sorted(f"t{i}" for i in range(8))


def test_each_request_keeps_its_payload_in_a_shared_pass() -> None:
    run = Recorder()
    batcher = MicroBatcher(run, max_batch_size=32, max_wait_ms=100)
    run.gate.clear()
    blocker = batcher.submit("k", ["w"])  # occupies the worker: the next two queue behind it
    _until(lambda: batcher._queue.empty())
    first = batcher.submit("k", ["x"], payload="A/")
    second = batcher.submit("k", ["y", "z"], payload="B/")
    run.gate.set()
    assert first.result(5) == ["k:A/x"] and second.result(5) == ["k:B/y", "k:B/z"]
    assert blocker.result(5) == ["k:w"]
    batcher.close()
    assert run.passes == [("k", ["w"]), ("k", ["x", "y", "z"])]


def _until(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.001)


def test_a_call_that_finds_the_worker_idle_runs_at_once() -> None:
    """One caller at a time (request/response traffic): nobody is coming to share the pass, so no wait."""
    run = Recorder()
    batcher = MicroBatcher(run, max_batch_size=32, max_wait_ms=30_000)
    started = time.monotonic()
    for i in range(3):
        assert batcher("k", [f"t{i}"], timeout=10) == [f"k:t{i}"]
    elapsed = time.monotonic() - started
    batcher.close()
    assert elapsed < 10  # three waits of max_wait_ms would take 90 s
    assert run.passes == [("k", ["t0"]), ("k", ["t1"]), ("k", ["t2"])]


def test_while_calls_overlap_the_next_pass_waits_for_company() -> None:
    """A call arrived during the last pass: the next pass waits up to max_wait_ms, so a straggler joins it."""
    run = Recorder()
    batcher = MicroBatcher(run, max_batch_size=32, max_wait_ms=2_000)
    run.gate.clear()
    blocker = batcher.submit("k", ["a"])
    _until(lambda: batcher._queue.empty())
    queued = batcher.submit("k", ["b"])  # arrives while the pass runs
    run.gate.set()
    assert blocker.result(5) == ["k:a"]
    _until(lambda: batcher._queue.empty())  # the worker holds "b", waiting for company
    time.sleep(0.05)
    straggler = batcher.submit("k", ["c"])
    assert queued.result(5) == ["k:b"] and straggler.result(5) == ["k:c"]
    batcher.close()
    assert run.passes == [("k", ["a"]), ("k", ["b", "c"])]


def test_live_calls_overtake_queued_background_work() -> None:
    run = Recorder()
    batcher = MicroBatcher(run, max_batch_size=1, max_wait_ms=0)
    run.gate.clear()
    blocker = batcher.submit("first", ["x"])  # occupies the worker
    time.sleep(0.05)
    background = [batcher.submit("bg", [f"b{i}"], priority=BACKGROUND) for i in range(3)]
    live = batcher.submit("live", ["l"], priority=LIVE)
    run.gate.set()
    for future in [blocker, live, *background]:
        future.result(5)
    batcher.close()
    order = [key for key, _ in run.passes]
    assert order[0] == "first" and order[1] == "live" and order[2:] == ["bg", "bg", "bg"]


def test_an_error_reaches_every_caller_of_the_pass() -> None:
    def failing(key: object, requests: list[tuple[object, list[str]]]) -> list[list[str]]:
        raise InvalidArgument("bad batch")

    batcher = MicroBatcher(failing, max_batch_size=8, max_wait_ms=20)
    futures = [batcher.submit("k", [str(i)]) for i in range(3)]
    for future in futures:
        with pytest.raises(InvalidArgument):
            future.result(5)
    batcher.close()


def test_close_fails_queued_work_and_refuses_new_work() -> None:
    run = Recorder()
    batcher = MicroBatcher(run, max_batch_size=1, max_wait_ms=0)
    run.gate.clear()
    running = batcher.submit("a", ["1"])
    time.sleep(0.05)
    queued = batcher.submit("b", ["2"], priority=BACKGROUND)
    closer = threading.Thread(target=batcher.close)
    closer.start()
    time.sleep(0.05)
    run.gate.set()
    closer.join(10)
    assert running.result(5) == ["a:1"]
    with pytest.raises(Unavailable):
        queued.result(5)
    with pytest.raises(Unavailable):
        batcher.submit("c", ["3"])
