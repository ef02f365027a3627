"""Soak test: ``/v1/analyze`` through the gateway at a steady request rate for a long time (default 10 minutes),
reporting throughput, p50/p99 per minute, errors, and the memory (RSS) of every process at the start and end.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/soak_bench.py [--minutes 10] [--rate 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
import psutil  # noqa: E402
from suite_harness import running_suite  # noqa: E402

from services.common.roles import Role  # noqa: E402
from training.data import read_examples  # noqa: E402
from training.seed import DATA_DIR  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def suite_rss() -> dict[str, float]:
    """RSS (MiB) of each process of this benchmark's own suite: its child processes, told apart by module name.

    Only children: another salesai process on the machine (a test run, a second suite) must not be sampled in
    place of ours.
    """
    out = {}
    for process in psutil.Process().children(recursive=True):
        try:
            cmd = " ".join(process.cmdline())
            rss = process.memory_info().rss
        except psutil.Error:  # exited between the listing and the read
            continue
        for name, module in (
            ("gateway", "-m gateway"),
            ("ingestion", "services.ingestion"),
            ("inference", "services.inference"),
            ("leads", "services.leads"),
            ("training", "services.training"),
        ):
            if module in cmd:
                out[name] = round(rss / 2**20, 1)
    return out


async def soak(url: str, token: str, texts: list[str], minutes: float, rate: float) -> dict:  # type: ignore[type-arg]
    headers = {"Authorization": f"Bearer {token}"}
    results: list[tuple[float, float, int]] = []  # (start offset s, latency ms, status)
    started = time.perf_counter()
    end = started + minutes * 60
    rss_per_minute: list[dict[str, float]] = []

    async def sample_rss() -> None:  # a trend, not two points: a plateau is warm-up, a steady slope is a leak
        while time.perf_counter() < end:
            await asyncio.sleep(min(60.0, max(0.0, end - time.perf_counter())))
            rss_per_minute.append(suite_rss())

    sampler = asyncio.create_task(sample_rss())
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=64)) as client:

        async def one(i: int) -> None:
            t = time.perf_counter()
            body = {"external_id": f"soak-{i}", "lead_id": f"lead-{i % 50}", "text": texts[i % len(texts)]}
            try:
                reply = await client.post(f"{url}/v1/analyze", json=body, headers=headers)
                status = reply.status_code
            except httpx.HTTPError:
                status = 0
            results.append((t - started, (time.perf_counter() - t) * 1000, status))

        tasks, i = [], 0
        while (now := time.perf_counter()) < end:  # open loop: a steady arrival rate, whatever the latency
            tasks.append(asyncio.create_task(one(i)))
            i += 1
            await asyncio.sleep(max(0.0, started + i / rate - now))
        await asyncio.gather(*tasks)
        await sampler
    per_minute = []
    for minute in range(int(minutes + 0.999)):
        window = [lat for at, lat, status in results if minute * 60 <= at < (minute + 1) * 60 and status == 200]
        per_minute.append(
            {
                "minute": minute + 1,
                "ok": len(window),
                "p50_ms": percentile(window, 50),
                "p99_ms": percentile(window, 99),
                "rss_mb": rss_per_minute[minute] if minute < len(rss_per_minute) else {},
            }
        )
    ok = [lat for _, lat, status in results if status == 200]
    return {
        "requests": len(results),
        "failed": sum(status != 200 for _, _, status in results),
        "throughput_rps": round(len(ok) / (minutes * 60), 2),
        "p50_ms": percentile(ok, 50),
        "p99_ms": percentile(ok, 99),
        "per_minute": per_minute,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=8.0, help="requests per second (open loop)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    texts = [e.text for e in read_examples(DATA_DIR / "intent.jsonl")]
    with running_suite({"crm": Role.CRM_BACKEND}) as (url, tokens):
        asyncio.run(soak(url, tokens["crm"], texts, 1.0, args.rate))  # warm-up: lazy models, caches (not reported)
        before = suite_rss()
        result = asyncio.run(soak(url, tokens["crm"], texts, args.minutes, args.rate))
        after = suite_rss()
    result["rss_mb_start"] = before
    result["rss_mb_end"] = after
    result["rss_growth_pct"] = {k: round(100 * (after[k] - before[k]) / before[k], 2) for k in before if k in after}
    # the second half alone: growth that has stopped by mid-run is warm-up (allocator pools), not a leak
    trend = [m["rss_mb"] for m in result["per_minute"] if m["rss_mb"]]
    if len(trend) >= 4:
        mid, last = trend[len(trend) // 2 - 1], trend[-1]
        result["rss_growth_second_half_pct"] = {
            k: round(100 * (last[k] - mid[k]) / mid[k], 2) for k in mid if k in last
        }
    result["rate_rps"] = args.rate
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
