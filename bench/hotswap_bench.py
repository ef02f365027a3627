"""Load test of hot swapping: classification traffic through the gateway at steady concurrency while a script
loads a new version, canaries it at 10%, turns shadow on, promotes it, rolls back and unloads.

The whole suite runs as ``salesai up`` runs it (separate processes, ephemeral ports, a private data folder).
Prints total and failed requests, p50/p99 before and during the swaps, and how long after "promote" the
traffic moved to the new version.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/hotswap_bench.py [--concurrency 8] [--before 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from suite_harness import running_suite  # noqa: E402

from models.artifacts import MANIFEST  # noqa: E402
from models.registry import PRETRAINED_DIR, ModelRegistry  # noqa: E402
from services.common.roles import Role  # noqa: E402
from services.common.storage import Database  # noqa: E402
from training.data import read_examples  # noqa: E402
from training.seed import DATA_DIR  # noqa: E402


@dataclass
class Sample:
    started: float
    seconds: float
    status: int
    version: str
    phase: str


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


async def drive(url: str, token: str, texts: list[str], concurrency: int, phase: list[str], stop: asyncio.Event):
    samples: list[Sample] = []
    headers = {"Authorization": f"Bearer {token}"}

    async def worker(slot: int) -> None:
        i = slot
        async with httpx.AsyncClient(timeout=30) as client:
            while not stop.is_set():
                body = {"texts": [texts[i % len(texts)]], "tasks": ["intent"], "conversation_id": f"c{i}"}
                started = time.perf_counter()
                try:
                    reply = await client.post(f"{url}/v1/classify", json=body, headers=headers)
                    status = reply.status_code
                    version = reply.json()["results"][0]["predictions"][0]["model_version"] if status == 200 else ""
                except httpx.HTTPError:
                    status, version = 0, ""
                samples.append(Sample(started, time.perf_counter() - started, status, version, phase[0]))
                i += concurrency

    await asyncio.gather(*(worker(s) for s in range(concurrency)))
    return samples


async def swaps(url: str, token: str, log: list[tuple[str, float, float, int]]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{url}/v1/models/intent"
    steps = [
        ("load", "POST", f"{base}/versions/v2/load", None),
        ("canary 10%", "PUT", f"{base}/traffic", {"canary_version": "v2", "canary_percent": 10}),
        ("shadow on", "PUT", f"{base}/traffic", {"shadow_version": "v2"}),  # canary off; v2 sees traffic silently
        ("promote", "POST", f"{base}/versions/v2/promote", {}),
        ("rollback", "POST", f"{base}/rollback", None),
        ("unload", "POST", f"{base}/versions/v2/unload", None),
    ]
    async with httpx.AsyncClient(timeout=180) as client:
        for name, method, target, body in steps:
            started = time.perf_counter()
            reply = await client.request(method, target, json=body, headers=headers, params={"scope": "global"})
            log.append((name, started, time.perf_counter(), reply.status_code))
            if reply.status_code >= 400:
                print(f"{name}: {reply.status_code} {reply.text}", file=sys.stderr)
            await asyncio.sleep(4)


async def run(url: str, tokens: dict[str, str], texts: list[str], args: argparse.Namespace) -> dict:  # type: ignore[type-arg]
    phase = ["warm-up"]
    stop = asyncio.Event()
    load = asyncio.create_task(drive(url, tokens["crm"], texts, args.concurrency, phase, stop))
    await asyncio.sleep(3)
    phase[0] = "before"
    await asyncio.sleep(args.before)
    phase[0] = "during"
    log: list[tuple[str, float, float, int]] = []
    await swaps(url, tokens["admin"], log)
    phase[0] = "after"
    await asyncio.sleep(3)
    stop.set()
    samples = await load

    measured = [s for s in samples if s.phase != "warm-up"]
    failed = [s for s in measured if s.status != 200]
    steps = {name: {"status": status, "seconds": round(end - begin, 3)} for name, begin, end, status in log}
    promote = next(entry for entry in log if entry[0] == "promote")
    rollback = next(entry for entry in log if entry[0] == "rollback")
    after_promote = [s for s in samples if promote[2] <= s.started < rollback[1] and s.status == 200]
    first_new = min((s.started for s in samples if s.started >= promote[1] and s.version == "v2"), default=None)
    stale = [s for s in after_promote if s.version != "v2"]
    result = {
        "concurrency": args.concurrency,
        "requests": len(measured),
        "failed": len(failed),
        "failed_statuses": sorted({s.status for s in failed}),
        "before": {
            "p50_ms": percentile([s.seconds * 1000 for s in measured if s.phase == "before"], 50),
            "p99_ms": percentile([s.seconds * 1000 for s in measured if s.phase == "before"], 99),
            "throughput_rps": sum(s.phase == "before" for s in measured) / args.before,
        },
        "during": {
            "p50_ms": percentile([s.seconds * 1000 for s in measured if s.phase == "during"], 50),
            "p99_ms": percentile([s.seconds * 1000 for s in measured if s.phase == "during"], 99),
        },
        "steps": steps,
        "promote_call_seconds": round(promote[2] - promote[1], 3),
        "first_v2_response_after_promote_sent_s": round(first_new - promote[1], 3) if first_new else None,
        "requests_started_after_promote_returned_on_old_version": len(stale),
        "canary_share_during_canary": _share(samples, log, "canary 10%", "shadow on"),
    }
    result["p99_during_over_before"] = result["during"]["p99_ms"] / result["before"]["p99_ms"]
    return result


def _share(samples: list[Sample], log: list, start: str, end: str) -> float:  # type: ignore[type-arg]
    begin = next(e[2] for e in log if e[0] == start)
    finish = next(e[1] for e in log if e[0] == end)
    window = [s for s in samples if begin <= s.started < finish and s.status == 200]
    return round(sum(s.version == "v2" for s in window) / max(1, len(window)), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--before", type=float, default=20.0, help="seconds of steady load before the swaps")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    texts = [e.text for e in read_examples(DATA_DIR / "intent.jsonl") if e.split == "test"]

    def prepare(db: Database, data_dir: Path) -> None:
        registry = ModelRegistry(db, data_dir / "models")
        registry.install_pretrained()
        staged = data_dir / "intent-v2"
        shutil.copytree(PRETRAINED_DIR / "intent", staged)
        manifest = json.loads((staged / MANIFEST).read_text())
        manifest["version"] = "v2"
        (staged / MANIFEST).write_text(json.dumps(manifest))
        registry.register(staged)

    with running_suite({"crm": Role.CRM_BACKEND, "admin": Role.ADMIN}, prepare) as (url, tokens):
        result = asyncio.run(run(url, tokens, texts, args))
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(
        f"\nrequests {result['requests']}, failed {result['failed']}; "
        f"p50/p99 before {result['before']['p50_ms']:.1f}/{result['before']['p99_ms']:.1f} ms, "
        f"during {result['during']['p50_ms']:.1f}/{result['during']['p99_ms']:.1f} ms "
        f"(p99 ratio {result['p99_during_over_before']:.2f}); promote call {result['promote_call_seconds']} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
