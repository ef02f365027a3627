"""Benchmark: how long a labeller waits for the next item, through the real REST app on a real SQLite file.

Items are loaded with pre-annotations (seeded random confidences: the queue orders by them), then the
labeller asks ``GET /v1/workbench/projects/{id}/next`` repeatedly with the full queue in front of them
("http"), the same lookup is timed in-process without HTTP ("query": ``Labelling.next_item``), and for queues
up to ``--walk-max`` items the labeller walks the whole queue (next, answer, next, ...; only "next" timed).
Baseline, same run and data: everything again with the queue index (``ix_annotation_items_queue``) dropped, so
the database must filter and sort the project's items on every call.

    .venv/bin/python bench/workbench_bench.py [--items 500 5000] [--repeats 200] [--walk-max 500] [--json out.json]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import text  # noqa: E402

from annotation.labelling import Labelling  # noqa: E402
from annotation.store import Actor, NewItem, ProjectStore  # noqa: E402
from gateway.config import GatewaySettings  # noqa: E402
from gateway.main import create_app  # noqa: E402
from services.common.roles import Role  # noqa: E402
from services.common.storage import Database  # noqa: E402

W = "/v1/workbench"


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {
        "p50_ms": round(pick(0.50) * 1000, 2),
        "p90_ms": round(pick(0.90) * 1000, 2),
        "p99_ms": round(pick(0.99) * 1000, 2),
        "n": len(samples),
    }


def timed_next(client: TestClient, url: str, headers: dict[str, str]) -> tuple[float, dict | None]:
    started = time.perf_counter()
    reply = client.get(url, headers=headers)
    elapsed = time.perf_counter() - started
    assert reply.status_code in (200, 204), reply.text
    return elapsed, reply.json() if reply.status_code == 200 else None


def run(n_items: int, repeats: int, workdir: Path, indexed: bool, walk_max: int) -> dict[str, object]:
    url_db = f"sqlite:///{workdir}/bench-{n_items}-{'idx' if indexed else 'noidx'}.db"
    settings = GatewaySettings(database_url=url_db, rate_limit="", key_cache_seconds=60)
    with TestClient(create_app(settings)) as client:
        keys = client.app.state.keys  # type: ignore[attr-defined]
        admin, labeller = keys.create("acme", Role.PROJECT_ADMIN), keys.create("acme", Role.LABELLER)
        body = {"name": "bench", "kind": "single", "labels": [{"name": "a"}, {"name": "b"}], "overlap": 1}
        project = client.post(f"{W}/projects", json=body, headers={"Authorization": f"Bearer {admin.token}"}).json()
        rng = random.Random(7)
        items = [
            NewItem(
                f"message {i} about pricing and timelines",
                "text",
                "en",
                prediction_label="a",
                prediction_confidence=round(rng.uniform(0.34, 0.99), 4),
            )
            for i in range(n_items)
        ]
        db: Database = client.app.state.db  # type: ignore[attr-defined]
        ProjectStore(db).add_items(Actor("acme", f"key:{admin.key_id}", "project_admin"), project["id"], items)
        if not indexed:
            with db.engine.begin() as conn:
                conn.execute(text("DROP INDEX ix_annotation_items_queue"))
        headers = {"Authorization": f"Bearer {labeller.token}"}
        url = f"{W}/projects/{project['id']}/next"
        for _ in range(5):  # warm the connection pool and caches
            timed_next(client, url, headers)
        full = [timed_next(client, url, headers)[0] for _ in range(repeats)]
        labelling, who = Labelling(db), Actor("acme", f"key:{labeller.key_id}", "labeller")
        query = []
        for _ in range(repeats):
            started = time.perf_counter()
            labelling.next_item(who, project["id"])
            query.append(time.perf_counter() - started)
        result = {"items": n_items, "index": indexed, "http": percentiles(full), "query": percentiles(query)}
        if n_items > walk_max:
            return result
        walk, lowest_first = [], True
        previous = -1.0
        while True:
            elapsed, found = timed_next(client, url, headers)
            if found is None:
                break
            walk.append(elapsed)
            confidence = found["item"]["prediction"]["confidence"]
            lowest_first &= confidence >= previous
            previous = confidence
            put = client.put(
                f"{W}/projects/{project['id']}/items/{found['item']['id']}/annotation",
                json={"labels": ["a"]},
                headers=headers,
            )
            assert put.status_code == 200, put.text
        assert len(walk) == n_items and lowest_first, "the queue must serve every item, least confident first"
    return {**result, "walk": percentiles(walk)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--walk-max", type=int, default=500, help="walk the whole queue only up to this size")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("SALESAI_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    os.environ.setdefault("SALESAI_API_KEY_PEPPER", "bench-pepper")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("SALESAI_DATA_DIR", tmp)
        for n in args.items:
            for indexed in (True, False):
                result = run(n, args.repeats, Path(tmp), indexed, args.walk_max)
                results.append(result)
                line = f"items={n:>5} index={'yes' if indexed else 'no':<3}"
                for part in ("http", "query", "walk"):
                    if part in result:
                        p = result[part]
                        line += f"  {part}: p50={p['p50_ms']:6.2f} p90={p['p90_ms']:6.2f} p99={p['p99_ms']:6.2f} ms"
                print(line, flush=True)
    print(f"(load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    if args.json:
        args.json.write_text(json.dumps({"benchmark": "workbench_next_item", "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
