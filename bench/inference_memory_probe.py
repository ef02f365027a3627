"""Memory probe: the inference core built as the service builds it, classifying varied-length messages in varied
call shapes (single messages with evidence, analyze-like calls with a few recent messages), printing every
``--every`` calls the process RSS next to glibc's heap view (live vs held-free bytes) and, optionally, the
Python heap (tracemalloc) — so growth can be told apart: Python objects, live native memory (a cache), or
free memory glibc keeps (fragmentation).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/inference_memory_probe.py [--calls 2000] [--rate 10] \
        [--trim-idle-ms 0] [--trim-each] [--mmap-threshold BYTES] [--arena-max N] [--tracemalloc]

Run one configuration per process (glibc settings cannot be undone); compare the printed ``growth``.
``MALLOC_*`` environment variables work too, set on the command line.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402

from services.common import memory  # noqa: E402  (no torch yet: the cache size and mallopt come first)
from services.inference.config import InferenceSettings  # noqa: E402


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def mib(n: float) -> float:
    return round(n / 2**20, 1)


def rss_parts() -> dict[str, float]:
    """Anonymous (heap, stacks) vs file-backed (libraries, mapped weights) resident memory, from /proc."""
    status = Path("/proc/self/status")
    if not status.is_file():
        return {}
    fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
    return {f"{k.lower()}_mb": mib(int(fields[k].split()[0]) * 1024) for k in ("RssAnon", "RssFile") if k in fields}


def sample(calls: int, started: float, window: list[float], traced: bool) -> dict[str, float]:
    heap = memory.heap_stats()
    row = {
        "calls": calls,
        "s": round(time.perf_counter() - started, 1),
        "rss_mb": mib(psutil.Process().memory_info().rss),
        **rss_parts(),
        "p50_ms": round(percentile(window, 50), 1),
    }
    if heap is not None:
        row |= {"heap_in_use_mb": mib(heap.in_use), "heap_free_mb": mib(heap.free), "mmapped_mb": mib(heap.mmapped)}
    if traced:
        row["py_traced_mb"] = mib(tracemalloc.get_traced_memory()[0])
        row["py_objects"] = len(gc.get_objects())
    return row


def workload(texts: list[str], calls: int, seed: int) -> list[list[str]]:
    """Call shapes like the soak's: mostly one message, some analyze calls with up to 5 recent messages."""
    rng = random.Random(seed)
    out, cursor = [], 0
    for _ in range(calls):
        size = 1 if rng.random() < 0.6 else rng.randint(2, 6)
        out.append([texts[(cursor + k) % len(texts)] for k in range(size)])
        cursor += size
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--every", type=int, default=200)
    parser.add_argument("--warm-calls", type=int, default=200, help="calls before the baseline sample")
    parser.add_argument("--rate", type=float, default=10.0, help="calls per second (open loop); 0: back to back")
    parser.add_argument("--clients", type=int, default=4, help="client threads (like the gRPC worker pool)")
    defaults = InferenceSettings.model_fields
    parser.add_argument(
        "--trim-idle-ms", type=float, default=defaults["trim_idle_ms"].default, help="the service's idle trim (0: off)"
    )
    parser.add_argument("--trim-interval-s", type=float, default=defaults["trim_interval_s"].default)
    parser.add_argument(
        "--kernel-cache",
        type=int,
        default=defaults["kernel_cache_capacity"].default,
        help="oneDNN shape cache entries, as the service launcher sets it (0: the library's default)",
    )
    parser.add_argument("--trim-each", action="store_true", help="malloc_trim(0) after every call (timed)")
    parser.add_argument("--mmap-threshold", type=int)
    parser.add_argument("--trim-threshold", type=int)
    parser.add_argument("--arena-max", type=int)
    parser.add_argument("--torch-threads", type=int)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument(
        "--mode", choices=("full", "no-explain", "tokenize"), default="full", help="what each call runs"
    )
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    memory.tune(mmap_threshold=args.mmap_threshold, trim_threshold=args.trim_threshold, arena_max=args.arena_max)
    kernel_cache = memory.limit_kernel_cache(args.kernel_cache or None)  # what the service's __main__ does

    from models.config import ModelSettings
    from services.inference.core import InferenceCore
    from services.inference.server import warm_up
    from training.data import read_examples
    from training.seed import DATA_DIR

    texts = [e.text for e in read_examples(DATA_DIR / "intent.jsonl")]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        settings = InferenceSettings(
            port=0,
            data_dir=data,
            trim_idle_ms=args.trim_idle_ms,
            trim_interval_s=args.trim_interval_s,
            kernel_cache_capacity=args.kernel_cache or None,
            models=ModelSettings(data_dir=data, torch_threads=args.torch_threads, precision=args.precision),
        )
        core = InferenceCore(settings)
        warm_up(core)  # the service's own warm-up, before SERVING
        result = drive(core, workload(texts, args.calls, args.seed), args)
        core.close()
    result["config"] = {k: v for k, v in vars(args).items() if k != "json"} | {
        k: v for k, v in os.environ.items() if k.startswith("MALLOC_")
    }
    result["config"]["kernel_cache_in_force"] = kernel_cache
    result["config"]["precision"] = str(core.encoder.dtype) if hasattr(core.encoder, "dtype") else "float32"
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


def drive(core: object, calls: list[list[str]], args: argparse.Namespace) -> dict[str, object]:
    if args.tracemalloc:
        tracemalloc.start()
    started = time.perf_counter()
    lock = threading.Lock()
    latencies: list[float] = []
    trims: list[float] = []
    samples: list[dict[str, float]] = []
    done = 0

    def one(index: int) -> None:
        nonlocal done
        if args.rate > 0:
            time.sleep(max(0.0, started + index / args.rate - time.perf_counter()))
        t = time.perf_counter()
        conversation = f"c{index % 50}"
        if args.mode == "tokenize":
            core.encoder.tokenize(calls[index])
        else:
            explain = args.mode == "full"
            core.classify("bench", calls[index], ["intent", "risk"], explain=explain, conversation_id=conversation)
        elapsed = (time.perf_counter() - t) * 1000
        trim_ms = None
        if args.trim_each:
            t = time.perf_counter()
            memory.trim()
            trim_ms = (time.perf_counter() - t) * 1000
        with lock:
            latencies.append(elapsed)
            if trim_ms is not None:
                trims.append(trim_ms)
            done += 1
            if done % args.every == 0 or done == args.warm_calls:
                row = sample(done, started, latencies[-args.every :], args.tracemalloc)
                samples.append(row)
                print(json.dumps(row), flush=True)

    with ThreadPoolExecutor(args.clients) as pool:
        list(pool.map(one, range(len(calls))))
    time.sleep(1.0)  # one idle period: lets an idle trim run, as it would between bursts of traffic
    final = sample(done, started, latencies[-args.every :], args.tracemalloc)
    samples.append(final)
    print(json.dumps(final | {"after_idle": True}), flush=True)
    base = next(s for s in samples if s["calls"] >= args.warm_calls)
    mid = samples[len(samples) // 2]
    return {
        "samples": samples,
        "rss_mb_base": base["rss_mb"],
        "rss_mb_end": final["rss_mb"],
        "growth_pct": round(100 * (final["rss_mb"] - base["rss_mb"]) / base["rss_mb"], 2),
        "growth_second_half_pct": round(100 * (final["rss_mb"] - mid["rss_mb"]) / mid["rss_mb"], 2),
        "p50_ms": round(percentile(latencies[args.warm_calls :], 50), 2),
        "p99_ms": round(percentile(latencies[args.warm_calls :], 99), 2),
        "trim_p50_ms": round(percentile(trims, 50), 3) if trims else None,
        "trim_max_ms": round(max(trims), 3) if trims else None,
        "idle_trims": core.batcher.idle_runs,  # type: ignore[attr-defined]
    }


if __name__ == "__main__":
    main()
