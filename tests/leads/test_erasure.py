"""Erasing a customer reaches everything derived from their messages (SQLite, then PostgreSQL), through the gateway
in front of real ingestion, inference, leads and training services with the embedded Qdrant index.

A customer's messages carrying planted PII go through ``/v1/analyze`` with a lead id (predictions and suggestions
stored), the lead is won (its messages join the similar-situation index), another customer's suggestions quote
them as similar past cases, a rep edits a suggestion, a labeller labels them into a snapshot, and a training job
trains a version from a second snapshot whose test split holds them (the job stages the snapshot as its dataset;
the version keeps its test split and report). After ``DELETE /v1/customers/{id}`` no table holds the customer's
id, interaction ids, redacted texts or planted values (every row of every column is searched), no file of the
job folders or the model registry does either, the Qdrant collection holds no point of theirs, and the other
customer's data is intact.
"""

from __future__ import annotations

import hashlib
import html
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from qdrant_client import QdrantClient
from sqlalchemy import select

from annotation.snapshots import split_rows, to_jsonl
from gateway.config import GatewaySettings
from models.registry import ModelRegistry
from models.tasks import TaskSpec
from services.common.server import GrpcServer
from services.common.storage import Database
from services.common.storage.models import (
    AnnotationItem,
    AnnotationSnapshot,
    Base,
    Interaction,
    Lead,
    LeadOutcome,
    Suggestion,
)
from services.ingestion.redaction import Redactor
from services.leads.config import LeadsSettings
from services.leads.server import create_server as create_leads
from services.suggestions.similar import DEFAULT_COLLECTION
from services.training.server import create_server as create_training
from tests.conftest import small_examples
from training.data import read_examples
from training.linear import train_linear
from training.seed import DATA_DIR

from ..e2e.test_pii_canary import leaks, plant
from ..gateway.conftest import auth
from ..training.conftest import training_settings

W = "/v1/workbench"
TASK = "erasure_intent"
#: shipped intent messages beside the customers' (labelled budget_freeze): 4 of a label always train (fewer than 5)
FILLERS = {"budget_freeze": 7, "demo_request": 4, "pricing_inquiry": 4}


@pytest.fixture
def training_service(migrated_url: str, data_dir: Path) -> Iterator[GrpcServer]:
    server, _ = create_training(training_settings(migrated_url, data_dir))
    server.start()
    yield server
    scheduler = server.hosted[0].servicer.runner.scheduler
    for job_id in list(scheduler.workers):
        scheduler.cancel(job_id)
    server.stop(0)


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings, training_service: GrpcServer) -> GatewaySettings:
    return gateway_settings.model_copy(update={"training_url": f"127.0.0.1:{training_service.port}"})


def table_dumps(url: str) -> dict[str, str]:
    """Every row of every table as text, per table (binary columns as hex: the raw zone's ciphertext)."""
    db = Database(url)
    out: dict[str, list[str]] = {}
    try:
        with db.session() as s:
            for table in Base.metadata.sorted_tables:
                for row in s.execute(table.select()):
                    values = [v.hex() if isinstance(v, bytes | memoryview) else v for v in row]
                    out.setdefault(table.name, []).append(json.dumps(values, ensure_ascii=False, default=str))
    finally:
        db.dispose()
    return {name: "\n".join(rows) for name, rows in out.items()}


def qdrant_points(path: Path) -> list[dict]:
    """Every point's payload, read from the embedded folder (the leads service must be stopped: it holds a lock)."""
    client = QdrantClient(path=str(path))
    try:
        if not client.collection_exists(DEFAULT_COLLECTION):
            return []
        points, _ = client.scroll(DEFAULT_COLLECTION, limit=10_000, with_payload=True)
        return [p.payload or {} for p in points]
    finally:
        client.close()


def training_files(data_dir: Path) -> dict[Path, str]:
    """Every text file of the job folders and the model registry (datasets, test splits, reports, manifests, logs)."""
    roots = [data_dir / "jobs", data_dir / "models"]
    suffixes = {".jsonl", ".json", ".html", ".md", ".log", ".txt"}
    return {
        p: p.read_text(encoding="utf-8", errors="replace")
        for root in roots
        for p in root.rglob("*")
        if p.is_file() and p.suffix in suffixes
    }


def _analyze(client: TestClient, token: str, external_id: str, customer: str, lead: str, text: str) -> dict:
    body = {"external_id": external_id, "customer_id": customer, "lead_id": lead, "text": text}
    reply = client.post("/v1/analyze", json=body, headers=auth(token))
    assert reply.status_code == 200, reply.text
    return reply.json()


def _won(client: TestClient, token: str, lead: str, note: str = "") -> int:
    reply = client.post(f"/v1/leads/{lead}/outcome", json={"outcome": "won", "note": note}, headers=auth(token))
    assert reply.status_code == 201, reply.text
    return reply.json()["cases_indexed"]


def _snapshot(client: TestClient, tokens: dict[str, str], interaction_ids: list[str]) -> dict:
    admin, labeller = auth(tokens["project_admin"]), auth(tokens["labeller"])
    labels = [{"name": "freeze"}, {"name": "other"}]
    project = client.post(f"{W}/projects", json={"name": "erasure", "kind": "single", "labels": labels}, headers=admin)
    assert project.status_code == 201, project.text
    pid = project.json()["id"]
    loaded = client.post(f"{W}/projects/{pid}/items", json={"interaction_ids": interaction_ids}, headers=admin)
    assert loaded.status_code == 200 and loaded.json()["added"] == len(interaction_ids), loaded.text
    while (item := client.get(f"{W}/projects/{pid}/next", headers=labeller)).status_code == 200:
        put = client.put(
            f"{W}/projects/{pid}/items/{item.json()['item']['id']}/annotation",
            json={"labels": ["freeze"]},
            headers=labeller,
        )
        assert put.status_code == 200, put.text
    cut = client.post(f"{W}/projects/{pid}/snapshots", json={"dev": 0, "test": 0}, headers=admin)
    assert cut.status_code == 201, cut.text
    return cut.json()


def _train_on(client: TestClient, tokens: dict[str, str], migrated_url: str, interaction_ids: list[str]) -> dict:
    """A real training job (linear head) from a snapshot whose test split holds the messages; returns the job."""
    admin, ml = auth(tokens["project_admin"]), auth(tokens["ml_engineer"])
    labels = [{"name": n} for n in FILLERS]
    project = client.post(f"{W}/projects", json={"name": "training", "kind": "single", "labels": labels}, headers=admin)
    assert project.status_code == 201, project.text
    pid = project.json()["id"]
    shipped = read_examples(DATA_DIR / "intent.jsonl")
    fillers = [e for label, n in FILLERS.items() for e in [x for x in shipped if x.label == label][:n]]
    for body in ({"interaction_ids": interaction_ids}, {"texts": [{"text": e.text} for e in fillers]}):
        loaded = client.post(f"{W}/projects/{pid}/items", json=body, headers=admin)
        assert loaded.status_code == 200, loaded.text
    db = Database(migrated_url)
    with db.session() as s:
        items = list(s.scalars(select(AnnotationItem).where(AnnotationItem.project_id == pid).order_by("seq")))
    db.dispose()
    gold = ["budget_freeze"] * len(interaction_ids) + [e.label for e in fillers]
    for item, label in zip(items, gold, strict=True):
        answer = client.post(f"{W}/projects/{pid}/items/{item.id}/gold", json={"labels": [label]}, headers=admin)
        assert answer.status_code == 200, answer.text
    # the seed that puts every one of the messages in the test split (the split is stratified, by a hash of the ids)
    rows = [{"text": i.text, "label": g, "lang": i.lang, "item_id": i.id} for i, g in zip(items, gold, strict=True)]
    wanted = {i.id for i in items[: len(interaction_ids)]}
    seed = next(
        n
        for n in range(10_000)
        if wanted <= {r["item_id"] for r in split_rows(rows, seed=n, dev=0, test=0.5) if r["split"] == "test"}
    )
    cut = client.post(f"{W}/projects/{pid}/snapshots", json={"seed": seed, "dev": 0, "test": 0.5}, headers=admin)
    assert cut.status_code == 201 and cut.json()["counts"]["test"] == 5, cut.text
    body = {"task": TASK, "params": {"method": "linear"}}
    queued = client.post(f"{W}/snapshots/{cut.json()['id']}/train", json=body, headers=ml)
    assert queued.status_code == 201, queued.text
    job, deadline = queued.json(), time.monotonic() + 300
    while (job := client.get(f"/v1/jobs/{job['id']}", headers=ml).json())["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
    assert job["state"] == "succeeded" and job["version"] == "v1", job["error"]
    return job


def test_erasure_reaches_vectors_suggestions_snapshots_and_leads(
    client: TestClient, tokens: dict[str, str], migrated_url: str, data_dir: Path, leads_service: GrpcServer
) -> None:
    crm, rep = tokens["crm_backend"], tokens["sales_rep"]
    planted = plant(uuid.uuid4().int)
    marker = f"erasure{uuid.uuid4().hex[:12]}"
    upsert = client.put(
        "/v1/leads/lead-a",
        json={"customer_id": "cust-a", "stage": "proposal", "fields": {"company_size": 400, "memo": marker}},
        headers=auth(crm),
    )
    assert upsert.status_code == 201, upsert.text
    a_texts = [
        f"王先生您好，我是{planted['zh_name']}，手机{planted['phone']}，邮箱{planted['email']}。"
        f"预算冻结了，今年的采购全部暂停。{marker}",
        f"身份证{planted['id']}，卡号{planted['card']}。预算冻结了，下个季度再说 {marker}",
    ]
    a = [_analyze(client, crm, f"a-{i}", "cust-a", "lead-a", t) for i, t in enumerate(a_texts)]
    a_ids = [x["interaction"]["id"] for x in a]
    a_redacted = [x["interaction"]["redacted_text"] for x in a]
    a_suggestion = a[0]["suggestions"][0]["id"]
    edited = client.post(
        f"/v1/suggestions/{a_suggestion}/feedback",
        json={"decision": "edited", "edited_text": f"先暂停报价 {marker}"},
        headers=auth(rep),
    )
    assert edited.status_code == 201, edited.text
    assert _won(client, crm, "lead-a", note=f"signed after the call {marker}") == 2

    # another customer: their suggestions quote the won customer's messages as similar past cases
    b = _analyze(client, crm, "b-0", "cust-b", "lead-b", "预算冻结了，今年先不采购了，明年再看")
    b_id = b["interaction"]["id"]
    quoted = {c["case_id"] for s in b["suggestions"] for c in s["evidence"]["similar"]}
    assert quoted & set(a_ids), "the other lead's suggestions should cite the won customer's messages"
    assert _won(client, crm, "lead-b") == 1
    snapshot = _snapshot(client, tokens, [*a_ids, b_id])
    assert snapshot["counts"]["train"] == 3
    job = _train_on(client, tokens, migrated_url, [*a_ids, b_id])
    job_dir, version_dir = data_dir / "jobs" / job["id"], data_dir / "models" / "acme" / TASK / "v1"
    for path in (
        job_dir / "dataset.jsonl",
        job_dir / "version" / "report" / "test.jsonl",
        version_dir / "report" / "test.jsonl",
    ):
        held = path.read_text(encoding="utf-8")
        assert all(t in held for t in [*a_redacted, *a_ids, b["interaction"]["redacted_text"], b_id]), path
    worst = json.loads((version_dir / "report" / "metrics.json").read_text(encoding="utf-8"))["worst_errors"]
    quoted = [e for e in worst if e.get("interaction_id") in a_ids]  # the version gets these wrong, if any

    dumps = table_dumps(migrated_url)
    assert marker in dumps["suggestion_feedback"] and marker in dumps["leads"] and marker in dumps["lead_outcomes"]
    assert all(any(r in d for d in dumps.values()) for r in a_redacted)  # the dump really holds the texts

    erased = client.delete("/v1/customers/cust-a", headers=auth(crm))
    assert erased.status_code == 200, erased.text
    report = erased.json()
    assert report["interactions_erased"] == 2 and report["pending"] == []
    derived = report["derived_erased"]
    assert derived["vectors"] == 2 and derived["suggestions"] == len({s["id"] for x in a for s in x["suggestions"]})
    assert derived["suggestion_feedback"] == 1 and derived["suggestions_amended"] >= 1
    assert derived["leads_anonymised"] == 1 and derived["customers"] == 1 and derived["predictions"] >= 4
    # the training files: the job's staged dataset, the test split of the job's version and the registry's copy
    assert (derived["dataset_rows"], derived["test_split_rows"]) == (2, 4)
    assert derived["report_errors"] == 2 * len(quoted) and derived["training_files"] == 8

    # no table holds the customer's id (but the audit trail of the erasure), interaction ids, texts or PII
    dumps = table_dumps(migrated_url)
    for table, text in dumps.items():
        assert marker not in text, table
        assert [r for r in a_redacted if r in text] == [], table
        assert [i for i in a_ids if i in text] == [], table
        assert leaks(planted, text) == [], table
        if table != "audit_events":
            assert "cust-a" not in text, table
    db = Database(migrated_url)
    with db.session() as s:
        lead = s.scalars(select(Lead).where(Lead.external_id == "lead-a")).one()  # the deal stays, anonymised
        assert (lead.customer_id, lead.fields) == ("", {"company_size": 400})
        assert [(o.outcome, o.note) for o in s.scalars(select(LeadOutcome).where(LeadOutcome.lead_id == lead.id))] == [
            ("won", "")
        ]
        # the other customer: message, lead, suggestions intact; only the quotes of the erased customer are gone
        assert s.get(Interaction, b_id) is not None
        assert s.scalars(select(Lead.customer_id).where(Lead.external_id == "lead-b")).one() == "cust-b"
        kept = s.scalars(select(Suggestion).where(Suggestion.lead_id == "lead-b")).all()
        assert {r.id for r in kept} == {x["id"] for x in b["suggestions"]}
        assert all(c["case_id"] not in a_ids for r in kept for c in r.evidence["similar"])
        snap = s.get(AnnotationSnapshot, snapshot["id"])
        assert snap is not None and [r["text"] for r in snap.rows] == [b["interaction"]["redacted_text"]]
        assert snap.counts["train"] == 1 and snap.counts["erased"] == 2
        assert snap.sha256 == hashlib.sha256(to_jsonl(snap.rows)).hexdigest() != snapshot["sha256"]
    db.dispose()
    export = client.get(f"{W}/snapshots/{snapshot['id']}/export", headers=auth(tokens["ml_engineer"]))
    assert export.status_code == 200 and hashlib.sha256(export.content).hexdigest() == snap.sha256

    # no file of the job folders or the registry holds the customer's texts, ids or planted values; the other's stay
    files = training_files(data_dir)
    assert job_dir / "report.html" in files and version_dir / "report" / "test.jsonl" in files
    for path, text in files.items():
        assert marker not in text, path
        assert [r for r in a_redacted if r in text or html.escape(r) in text] == [], path
        assert [i for i in a_ids if i in text] == [] and "cust-a" not in text, path
        assert leaks(planted, text) == [], path
    for path in (job_dir / "dataset.jsonl", version_dir / "report" / "test.jsonl"):
        assert b_id in files[path] and b["interaction"]["redacted_text"] in files[path], path
    manifest = json.loads(files[version_dir / "salesai_model.json"])
    assert manifest["training"]["erased_after_evaluation"] == 2 and manifest["metrics"]["test_examples"] == 5
    assert "2 test rows were erased after this evaluation" in files[job_dir / "report.html"]
    reread = client.get(f"/v1/jobs/{job['id']}/report", headers=auth(tokens["ml_engineer"]))
    assert reread.status_code == 200 and marker not in reread.text

    leads_service.stop(0)  # releases the embedded Qdrant folder
    points = qdrant_points(data_dir / "qdrant")
    assert [p["case_id"] for p in points] == [b_id]
    assert not [p for p in points if marker in json.dumps(p, ensure_ascii=False) or p.get("customer_id") == "cust-a"]


def test_what_a_customer_erased_while_the_leads_and_training_services_were_down_left_goes_when_they_start(
    client: TestClient,
    tokens: dict[str, str],
    migrated_url: str,
    data_dir: Path,
    leads_service: GrpcServer,
    training_service: GrpcServer,
    encoder,  # noqa: ANN001 - the session's base encoder, so the restart loads nothing again
    redactor: Redactor,  # noqa: F811
) -> None:
    crm = tokens["crm_backend"]
    ids = {}
    for n, (customer, lead) in enumerate([("cust-x", "lead-x"), ("cust-y", "lead-y")]):
        body = {"external_id": f"m-{n}", "customer_id": customer, "lead_id": lead, "text": "预算冻结了，明年再说"}
        stored = client.post("/v1/interactions", json=body, headers=auth(crm))
        assert stored.status_code == 201
        ids[customer] = stored.json()["interaction"]["id"]
        assert client.put(f"/v1/leads/{lead}", json={"customer_id": customer}, headers=auth(crm)).status_code == 201
        assert _won(client, crm, lead) == 1
    version = _registered_version(encoder, migrated_url, data_dir, ids)
    leads_service.stop(0)
    training_service.stop(0)

    erased = client.delete("/v1/customers/cust-x", headers=auth(crm))
    assert erased.status_code == 200, erased.text
    assert erased.json()["interactions_erased"] == 1
    assert erased.json()["pending"] == ["similar_index", "training_files"]
    assert {p["customer_id"] for p in qdrant_points(data_dir / "qdrant")} == {"cust-x", "cust-y"}
    assert ids["cust-x"] in (version / "report" / "test.jsonl").read_text(encoding="utf-8")
    db = Database(migrated_url)
    with db.session() as s:  # the database side went through ingestion's erasers all the same
        assert s.scalars(select(Lead.customer_id).where(Lead.external_id == "lead-x")).one() == ""
    db.dispose()

    settings = LeadsSettings(port=0, data_dir=data_dir, database_url=migrated_url, qdrant_path=data_dir / "qdrant")
    restarted, _ = create_leads(settings, encoder=encoder, redactor=redactor)
    restarted.start()  # warm-up forgets vectors whose message is gone
    restarted.stop(0)
    assert {p["customer_id"] for p in qdrant_points(data_dir / "qdrant")} == {"cust-y"}
    training, _ = create_training(training_settings(migrated_url, data_dir))
    training.start()  # warm-up cuts the training-file rows whose message is gone
    training.stop(0)
    test_split = [json.loads(line) for line in (version / "report" / "test.jsonl").read_text().splitlines()]
    assert [r["interaction_id"] for r in test_split if "interaction_id" in r] == [ids["cust-y"]]
    assert json.loads((version / "salesai_model.json").read_text())["training"]["erased_after_evaluation"] == 1


def _registered_version(encoder, migrated_url: str, data_dir: Path, ids: dict[str, str]) -> Path:  # noqa: ANN001
    """A version trained for real (linear head) whose test split holds the customers' messages, registered."""
    rows = small_examples(per_label=6, test_per_label=0)
    rows += [replace(rows[0], text="预算冻结了，明年再说", split="test", interaction_id=i) for i in ids.values()]
    db = Database(migrated_url)
    registry = ModelRegistry(db, data_dir / "models")
    staging = registry.staging_dir(TASK)
    train_linear(encoder, TaskSpec.for_labels(TASK, sorted({e.label for e in rows})), rows, staging, version="v1")
    path = registry.register(staging, tenant_id="acme", move=True).path
    db.dispose()
    return path
