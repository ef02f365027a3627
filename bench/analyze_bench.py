"""End-to-end ``/v1/analyze`` through the gateway: ingest (redact + store), classify intent + risk with the lead's
recent messages, suggest — one message at a time (p50/p99) and at concurrency 8 (throughput), beside the
plain ``/v1/interactions`` ingest and ``/v1/classify`` calls measured in the same run, with the time of each stage
from the reply's ``Server-Timing`` header.

Baseline, in the same run and interleaved message by message with ``/v1/analyze``: the flow before the message
was embedded in its classification pass, driven over gRPC straight at the same services (so without the gateway's
REST cost): Ingest, Classify every message (the new one and the recent ones) with evidence and no embedding, then
Suggest without vectors, so the leads service embeds the message again for its similar-case search.

Before the suite starts, the same messages are classified in this process with the same encoder and adapters
(``model_floor``): the shared layers alone, intent + risk, with evidence, and with evidence and the embedding — what
``/v1/analyze`` asks of the inference service. That is the compute no service design can go below on this machine;
``/v1/analyze`` minus it is what the services, gRPC and REST add.

Before the timed calls, 20 leads with 60 messages are won, so the similar-situation index holds closed deals and
every suggestion searches it, as in production. Before the suite starts, a gradient-boosted scoring model is
trained on a synthetic lead table whose columns are signals the leads service computes from the database, and
registered, so every analyze call also rescores the lead with trees and exact TreeSHAP factors, as in production
(``--no-scoring-model``: the fallback path).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/analyze_bench.py [-n 200] [--json out.json] [--no-scoring-model]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402
import httpx  # noqa: E402
from salesai.inference.v1 import inference_pb2, inference_pb2_grpc  # noqa: E402
from salesai.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc  # noqa: E402
from salesai.scoring.v1 import scoring_pb2  # noqa: E402
from salesai.suggestions.v1 import suggestions_pb2, suggestions_pb2_grpc  # noqa: E402
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


def stats(times: list[float]) -> dict[str, float]:
    return {"p50_ms": percentile(times, 50), "p99_ms": percentile(times, 99)}


class TwoPass:
    """The baseline flow over gRPC: every message classified, the new one embedded again by the leads service."""

    def __init__(self, ports: dict[str, int], tenant: str) -> None:
        self.channels = [
            grpc.insecure_channel(f"127.0.0.1:{ports[name]}") for name in ("ingestion", "inference", "leads")
        ]
        self.ingestion = ingestion_pb2_grpc.IngestionServiceStub(self.channels[0])
        self.inference = inference_pb2_grpc.InferenceServiceStub(self.channels[1])
        self.suggestions = suggestions_pb2_grpc.SuggestionServiceStub(self.channels[2])
        self.tenant = tenant

    def __call__(self, external_id: str, lead_id: str, text: str, recent: Sequence[str] = ()) -> bool:
        """One message; whether the lead got suggestions (only then is the similar index searched)."""
        request = ingestion_pb2.IngestRequest(
            tenant_id=self.tenant, external_id=external_id, lead_id=lead_id, text=text.encode()
        )
        created = self.ingestion.Ingest(request).interaction
        history = [
            self.ingestion.GetInteraction(ingestion_pb2.GetInteractionRequest(tenant_id=self.tenant, interaction_id=i))
            for i in recent
        ]
        interactions = [*history, created]
        classified = self.inference.Classify(
            inference_pb2.ClassifyRequest(
                tenant_id=self.tenant,
                texts=[i.redacted_text for i in interactions],
                tasks=["intent", "risk"],
                explain=True,
                conversation_id=lead_id,
            )
        )
        suggest = suggestions_pb2.SuggestRequest(tenant_id=self.tenant, lead_id=lead_id, limit=20)
        suggest.record.extend(
            scoring_pb2.InteractionPredictions(interaction_id=i.id, predictions=list(row.predictions))
            for i, row in zip(interactions, classified.results, strict=True)
        )
        return len(self.suggestions.Suggest(suggest).suggestions) > 0

    def close(self) -> None:
        for channel in self.channels:
            channel.close()


def side_by_side(
    client: httpx.Client,
    baseline: TwoPass,
    bodies: list[dict],  # type: ignore[type-arg]
) -> tuple[dict[str, object], dict[str, float]]:
    """``/v1/analyze`` and the baseline, alternately per message; analyze's figures include its stages, and both
    are also given apart for the messages that got suggestions (a similar-case search ran) and those that did not."""
    ours: list[float] = []
    theirs: list[float] = []
    fired: list[bool] = []
    stages: dict[str, list[float]] = {}
    for body in bodies:
        started = time.perf_counter()
        reply = client.post("/v1/analyze", json={k: v for k, v in body.items() if k != "baseline_recent"})
        ours.append((time.perf_counter() - started) * 1000)
        reply.raise_for_status()
        fired.append(bool(reply.json()["suggestions"]))
        for part in reply.headers.get("server-timing", "").split(","):
            name, _, duration = part.strip().partition(";dur=")
            stages.setdefault(name, []).append(float(duration))
        recent = body.get("baseline_recent", [])
        started = time.perf_counter()
        baseline(f"base-{body['external_id']}", f"base-{body['lead_id']}", body["text"], recent)
        theirs.append((time.perf_counter() - started) * 1000)
    figures: dict[str, object] = stats(ours)
    figures["stages_p50_ms"] = {name: percentile(values, 50) for name, values in stages.items()}
    base: dict[str, object] = stats(theirs)
    for times, out in ((ours, figures), (theirs, base)):
        for label, wanted in (("with_suggestions", True), ("without_suggestions", False)):
            group = [t for t, f in zip(times, fired, strict=True) if f is wanted]
            if group:
                out[label] = {**stats(group), "messages": len(group)}
    return figures, base


def model_floor(texts: Sequence[str]) -> dict[str, object]:
    """In-process p50/p99 of the classification ``/v1/analyze`` asks for, and of its parts, on ``texts``."""
    import torch

    from models.artifacts import load_task_model, read_artifact
    from models.config import ModelSettings
    from models.encoder import BaseEncoder
    from models.registry import PRETRAINED_DIR
    from models.runtime import classify_many

    encoder = BaseEncoder.from_settings(ModelSettings())  # as the inference service builds it
    tasks = [load_task_model(read_artifact(PRETRAINED_DIR / name), encoder) for name in ("intent", "risk")]
    runs = {
        "shared_layers": lambda t: encoder.lower(encoder.tokenize([t])[0]),
        "intent_risk": lambda t: classify_many(encoder, [(tasks, [t])], explain=False),
        "intent_risk_evidence": lambda t: classify_many(encoder, [(tasks, [t])], explain=True),
        "intent_risk_evidence_embedding": lambda t: classify_many(
            encoder, [([*tasks, encoder.embedder], [t])], explain=True
        ),
    }
    figures: dict[str, object] = {
        "threads": torch.get_num_threads(),
        "layers": {"shared": encoder.split, "per_task": encoder.adapt_layers, "embedding": encoder.adapt_layers},
    }
    for text in texts[:10]:  # warm-up
        for run in runs.values():
            run(text)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for text in texts:  # interleaved, text by text: drift on a shared machine hits every part alike
        for name, run in runs.items():
            started = time.perf_counter()
            run(text)
            times[name].append((time.perf_counter() - started) * 1000)
    figures.update({name: stats(values) for name, values in times.items()})
    return figures


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
    examples = read_examples(DATA_DIR / "intent.jsonl")
    texts = [e.text for e in examples if e.split == "test"][: args.n]
    won_texts = [e.text for e in examples if e.split == "train"][:60]
    prepare = None if args.no_scoring_model else register_scoring_model
    floor = model_floor(texts)
    ports: dict[str, int] = {}
    with running_suite({"crm": Role.CRM_BACKEND}, prepare, ports=ports) as (url, tokens):
        baseline = TwoPass(ports, "bench")
        headers = {"Authorization": f"Bearer {tokens['crm']}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            # closed deals, as any tenant in production has: their messages fill the similar-situation index, so
            # every suggestion searches it (the baseline's leads service embeds the message for that search)
            for i, text in enumerate(won_texts):
                lead = f"won-{i % 20}"
                client.post("/v1/analyze", json={"external_id": f"won{i}", "lead_id": lead, "text": text})
            indexed = sum(
                client.post(f"/v1/leads/won-{n}/outcome", json={"outcome": "won"}).json()["cases_indexed"]
                for n in range(min(20, len(won_texts)))
            )
            if indexed < len(won_texts):
                raise SystemExit(f"only {indexed} of {len(won_texts)} won messages reached the similar index")
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
                "model_floor": floor,
                "ingest_only": timed(
                    client, "/v1/interactions", [{"external_id": f"i{i}", "text": t} for i, t in enumerate(texts)]
                ),
                "classify_only": timed(client, "/v1/classify", [{"texts": [t]} for t in texts]),
            }
            result["analyze"], result["baseline_two_pass"] = side_by_side(client, baseline, analyze_bodies)

            def recent(lead: str, prefix: str) -> list[str]:
                return [
                    client.post(
                        "/v1/interactions", json={"external_id": f"{prefix}{i}", "lead_id": lead, "text": t}
                    ).json()["interaction"]["id"]
                    for i, t in enumerate(texts[:3])
                ]

            # the three recent messages were ingested without classification; /v1/analyze classifies them with
            # the first message and never again, the baseline classifies them with every message
            ids, base_ids = recent("h", "h"), recent("base-h", "bh")
            with_history = [
                {
                    "external_id": f"b{i}",
                    "lead_id": "h",
                    "text": t,
                    "recent_interaction_ids": ids,
                    "baseline_recent": base_ids,
                }
                for i, t in enumerate(texts)
            ]
            result["analyze_with_3_recent"], result["baseline_two_pass_with_3_recent"] = side_by_side(
                client, baseline, with_history
            )
            baseline.close()

        def one(i: int) -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
                for j in range(i, len(texts), 8):
                    c.post("/v1/analyze", json={"external_id": f"c{j}", "lead_id": f"l{j % 20}", "text": texts[j]})

        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, range(8)))
        result["analyze_concurrency8_msgs_per_s"] = len(texts) / (time.perf_counter() - started)
    model = floor["intent_risk_evidence_embedding"]["p50_ms"]  # type: ignore[index]
    result["analyze_p50_outside_model_ms"] = result["analyze"]["p50_ms"] - model  # type: ignore[index]
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
