"""The retraining loop end to end, through the gateway's REST API only: a project admin loads messages into the
workbench (pre-annotated by the serving model), two labellers label them, a reviewer resolves their conflict,
the admin cuts a snapshot, an ML engineer trains from it, and the new version ends up registered and taking
canary traffic — the state is checked after every step. Real services throughout: ingestion (redaction),
inference (serving v1, then the canary), the training service with its worker process, one database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from salesai.inference.v1 import inference_pb2

from gateway.auth import KeyStore
from gateway.config import GatewaySettings
from gateway.main import create_app
from models.config import ModelSettings
from models.registry import ModelRegistry
from services.common.roles import Role
from services.common.server import GrpcServer
from services.common.storage import Database
from services.ingestion.config import IngestionSettings
from services.ingestion.redaction import RedactionConfig, Redactor
from services.ingestion.server import create_server as create_ingestion_server
from tests.conftest import SMALL_LABELS, small_examples

W = "/v1/workbench"
TASK = "small_intent"


@pytest.fixture
def ingestion(migrated_url: str, secrets_env: dict[str, str]) -> Iterator[GrpcServer]:
    redactor = Redactor(RedactionConfig(use_spacy=False))
    server, _ = create_ingestion_server(IngestionSettings(port=0, database_url=migrated_url), redactor=redactor)
    server.start()
    yield server
    server.stop(0)


@pytest.fixture
def api(migrated_url, ingestion, inference, inference_stub, start_training, small_artifact, data_dir: Path):
    # v1 of the task serves (the shipped-data adapter); the gate is opened wide here: this test is about the
    # flow, and the gate's refusals are tested in test_jobs_service.py
    db = Database(migrated_url)
    ModelRegistry(db, ModelSettings(data_dir=data_dir).resolved_registry_dir).register(
        small_artifact.path, tenant_id="acme"
    )
    db.dispose()
    inference_stub.ActivateModel(inference_pb2.ActivateModelRequest(task=TASK, version="v1", tenant_id="acme"))
    start_training(inference.port, promotion_margin=1.0)
    settings = GatewaySettings(
        database_url=migrated_url,
        ingestion_url=f"127.0.0.1:{ingestion.port}",
        inference_url=f"127.0.0.1:{inference.port}",
        training_url=start_training.target,
        deadline_seconds=60,
        key_cache_seconds=0,
        rate_limit="",
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        keys: KeyStore = client.app.state.keys  # type: ignore[attr-defined]
        roles = {
            "admin": Role.PROJECT_ADMIN,
            "ann": Role.LABELLER,
            "bob": Role.LABELLER,
            "rev": Role.REVIEWER,
            "ml": Role.ML_ENGINEER,
        }
        tokens = {name: {"Authorization": f"Bearer {keys.create('acme', role).token}"} for name, role in roles.items()}
        yield client, tokens


def label_queue(client: TestClient, headers: dict[str, str], pid: str, truth: dict[str, str], wrong: int = 0) -> int:
    """Work through the caller's queue with the true labels (the first ``wrong`` answers deliberately not)."""
    done = 0
    while (reply := client.get(f"{W}/projects/{pid}/next", headers=headers)).status_code == 200:
        item = reply.json()["item"]
        label = truth[item["text"]]
        if done < wrong:
            label = next(other for other in SMALL_LABELS if other != label)
        put = client.put(f"{W}/projects/{pid}/items/{item['id']}/annotation", json={"labels": [label]}, headers=headers)
        assert put.status_code == 200, put.text
        done += 1
    assert reply.status_code == 204, reply.text
    return done


def test_labels_to_a_canary_through_the_api(api) -> None:
    client, who = api
    examples = small_examples(per_label=10, test_per_label=0)
    texts = [e.text for e in examples]

    # 1. a project whose task is the serving one: loaded items are pre-annotated by it
    project = client.post(
        f"{W}/projects",
        json={"name": "small intent", "kind": "single", "labels": [{"name": n} for n in SMALL_LABELS], "overlap": 2,
              "task": TASK},
        headers=who["admin"],
    )  # fmt: skip
    assert project.status_code == 201, project.text
    pid = project.json()["id"]
    items = {"texts": [{"text": t} for t in texts]}
    loaded = client.post(f"{W}/projects/{pid}/items", json=items, headers=who["admin"])
    assert loaded.status_code == 200 and loaded.json()["added"] == len(texts), loaded.text
    assert loaded.json()["preannotation"] == "ok"
    # what the labellers see is the redacted text: map it back to the true label through the same redaction
    redacted = [
        client.post("/v1/redact", json={"text": t}, headers=who["admin"]).json()["redacted_text"] for t in texts
    ]
    truth = {r: e.label for r, e in zip(redacted, examples, strict=True)}
    first = client.get(f"{W}/projects/{pid}/next", headers=who["ann"]).json()["item"]
    assert first["prediction"]["label"] in SMALL_LABELS and 0 < first["prediction"]["confidence"] <= 1

    # 2. two labellers label every item; one answer disagrees
    assert label_queue(client, who["ann"], pid, truth) == len(texts)
    assert label_queue(client, who["bob"], pid, truth, wrong=1) == len(texts)
    stats = client.get(f"{W}/projects/{pid}", headers=who["admin"]).json()["stats"]
    assert stats["done"] == len(texts) and stats["conflicts"] == 1
    agreement = client.get(f"{W}/projects/{pid}/agreement", headers=who["rev"]).json()
    assert agreement["items_compared"] == len(texts) and 0.9 < agreement["cohen"][0]["kappa"] < 1

    # 3. the reviewer resolves the conflict with the true label
    (conflict,) = client.get(f"{W}/projects/{pid}/conflicts", headers=who["rev"]).json()["items"]
    answer = truth[conflict["item"]["text"]]
    resolved = client.put(
        f"{W}/projects/{pid}/items/{conflict['item']['id']}/resolution", json={"labels": [answer]}, headers=who["rev"]
    )
    assert resolved.status_code == 200, resolved.text
    assert client.get(f"{W}/projects/{pid}/conflicts", headers=who["rev"]).json()["items"] == []

    # 4. an immutable snapshot holding every item, stratified
    snapshot = client.post(f"{W}/projects/{pid}/snapshots", json={"seed": 13}, headers=who["admin"]).json()
    assert sum(snapshot["label_counts"].values()) == len(texts)
    assert snapshot["label_counts"] == {label: 10 for label in SMALL_LABELS}
    assert snapshot["counts"]["test"] > 0 and snapshot["counts"]["dev"] > 0

    # 5. train from it, canary 10% when it passes
    body = {"params": {"method": "linear"}, "deploy": "canary", "canary_percent": 10}
    queued = client.post(f"{W}/snapshots/{snapshot['id']}/train", json=body, headers=who["ml"])
    assert queued.status_code == 201, queued.text
    job = queued.json()
    assert (job["task"], job["snapshot_id"], job["state"]) == (TASK, snapshot["id"], "queued")
    deadline = time.monotonic() + 300
    while (job := client.get(f"/v1/jobs/{job['id']}", headers=who["ml"]).json())["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
    assert job["state"] == "succeeded", job["error"]
    assert job["reproducibility"]["data_sha256"] == snapshot["sha256"] and job["gate"]["passed"]

    # 6. registered as the next version, loaded, and taking 10% of conversations
    assert job["version"] == "v2" and job["deploy_result"]["done"], job["deploy_result"]
    models = client.get("/v1/models", params={"task": TASK}, headers=who["ml"]).json()
    assert {v["version"] for v in models["versions"] if v["task"] == TASK} >= {"v1", "v2"}
    traffic = client.get(f"/v1/models/{TASK}/traffic", headers=who["ml"]).json()
    assert (traffic["stable_version"], traffic["canary_version"], traffic["canary_percent"]) == ("v1", "v2", 10)
