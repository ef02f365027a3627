"""End-to-end ``/v1/analyze`` through the gateway: ingest (redact + store), classify intent + risk with the lead's
recent messages, suggest — one message at a time (p50/p99) and at concurrency 8 (throughput), beside the
plain ``/v1/interactions`` ingest and ``/v1/classify`` calls measured in the same run.

Before the suite starts, a gradient-boosted scoring model is trained on a synthetic lead table whose columns are
signals the leads service computes from the database, and registered, so every analyze call also rescores the
lead with trees and exact TreeSHAP factors, as in production (``--no-scoring-model``: the fallback path).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/analyze_bench.py [-n 200] [--json out.json] [--no-scoring-model]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from suite_harness import running_suite  # noqa: E402

from services.common.roles import Role  # noqa: E402
from training.data import read_examples  # noqa: E402
from training.seed import DATA_DIR  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def timed(client: httpx.Client, path: str, bodies: list[dict]) -> dict[str, float]:  # type: ignore[type-arg]
    times = []
    for body in bodies:
        started = time.perf_counter()
        reply = client.post(path, json=body)
        times.append((time.perf_counter() - started) * 1000)
        reply.raise_for_status()
    return {"p50_ms": percentile(times, 50), "p99_ms": percentile(times, 99)}


def register_scoring_model(db: object, data_dir: Path) -> None:
    """Trees on 800 synthetic leads, with columns named as the leads service's signals and custom fields."""
    from services.scoring.config import TrainConfig
    from services.scoring.model import train
    from services.scoring.registry import ScoringRegistry
    from services.scoring.synthetic import make_leads

    table = make_leads().drop(columns=["owner_email"])
    table = table.rename(
        columns={"price_inquiries_30d": "pricing_inquiry_30d", "budget_freeze_mentions": "budget_freeze_30d"}
    )
    result = train(table, TrainConfig(target="outcome", time_column="created_at", id_column="lead_id"))
    ScoringRegistry(data_dir / "scoring").register("default", result, {"file": "synthetic", "rows": len(table)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-scoring-model", action="store_true", help="register no scoring model")
    args = parser.parse_args()
    texts = [e.text for e in read_examples(DATA_DIR / "intent.jsonl") if e.split == "test"][: args.n]
    prepare = None if args.no_scoring_model else register_scoring_model
    with running_suite({"crm": Role.CRM_BACKEND}, prepare) as (url, tokens):
        headers = {"Authorization": f"Bearer {tokens['crm']}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            for i, text in enumerate(texts[:10]):  # warm-up
                warm = client.post("/v1/analyze", json={"external_id": f"w{i}", "lead_id": "w", "text": text})
            source = warm.json()["score_source"]
            if source != ("none" if args.no_scoring_model else "model"):
                raise SystemExit(f"analyze scored the lead from {source!r}: the scoring model was not used")
            analyze_bodies = []
            for i, text in enumerate(texts):
                analyze_bodies.append(
                    {"external_id": f"a{i}", "lead_id": f"lead-{i % 20}", "text": text, "recent_interaction_ids": []}
                )
            result = {
                "messages": len(texts),
                "score_source": source,
                "ingest_only": timed(
                    client, "/v1/interactions", [{"external_id": f"i{i}", "text": t} for i, t in enumerate(texts)]
                ),
                "classify_only": timed(client, "/v1/classify", [{"texts": [t]} for t in texts]),
                "analyze": timed(client, "/v1/analyze", analyze_bodies),
            }
            ids = [
                client.post("/v1/interactions", json={"external_id": f"h{i}", "lead_id": "h", "text": t}).json()[
                    "interaction"
                ]["id"]
                for i, t in enumerate(texts[:3])
            ]
            with_history = [
                {"external_id": f"b{i}", "lead_id": "h", "text": t, "recent_interaction_ids": ids}
                for i, t in enumerate(texts)
            ]
            result["analyze_with_3_recent"] = timed(client, "/v1/analyze", with_history)

        def one(i: int) -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
                for j in range(i, len(texts), 8):
                    c.post("/v1/analyze", json={"external_id": f"c{j}", "lead_id": f"l{j % 20}", "text": texts[j]})

        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, range(8)))
        result["analyze_concurrency8_msgs_per_s"] = len(texts) / (time.perf_counter() - started)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
