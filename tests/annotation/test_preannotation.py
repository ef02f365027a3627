"""Pre-annotation through a real inference service (the shipped intent adapter on the real base encoder): items
get the model's label and confidence, and the queue serves the least confident first. A task no model serves
loads the items anyway and says so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.config import GatewaySettings
from gateway.main import create_app
from models.config import ModelSettings
from services.common.roles import Role
from services.common.server import GrpcServer
from services.inference.config import InferenceSettings
from services.inference.server import create_server

from .conftest import auth

W = "/v1/workbench"
TEXTS = [
    "Can you send me a quote for 50 seats?",
    "We want to sign the contract today",
    "Please stop emailing me",
    "Our budget has been frozen until next year",
    "Could we schedule a demo next week?",
    "你们的价格太贵了",
]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only here: test_api.py covers PostgreSQL; this file is about the inference round trip."""
    return f"sqlite:///{tmp_path}/preannotation.db"


@pytest.fixture
def inference(migrated_url: str, secrets_env: dict[str, str], encoder) -> Iterator[GrpcServer]:  # type: ignore[no-untyped-def]
    data = Path(secrets_env["SALESAI_DATA_DIR"])
    settings = InferenceSettings(
        port=0, data_dir=data, database_url=migrated_url, models=ModelSettings(data_dir=data, database_url=migrated_url)
    )
    server, _ = create_server(settings, encoder=encoder)
    server.start()
    yield server
    server.stop(0)


@pytest.fixture
def client_with_model(migrated_url: str, ingestion: GrpcServer, inference: GrpcServer) -> Iterator[TestClient]:
    settings = GatewaySettings(
        database_url=migrated_url,
        ingestion_url=f"127.0.0.1:{ingestion.port}",
        inference_url=f"127.0.0.1:{inference.port}",
        deadline_seconds=60,
        key_cache_seconds=0,
        rate_limit="",
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def test_items_are_preannotated_and_queued_least_confident_first(client_with_model: TestClient) -> None:
    client = client_with_model
    keys = client.app.state.keys  # type: ignore[attr-defined]
    admin, labeller = keys.create("acme", Role.PROJECT_ADMIN).token, keys.create("acme", Role.LABELLER).token
    body = {
        "name": "intents",
        "kind": "single",
        "labels": [{"name": "purchase_intent"}, {"name": "other"}],
        "task": "intent",
    }
    pid = client.post(f"{W}/projects", json=body, headers=auth(admin)).json()["id"]
    loaded = client.post(f"{W}/projects/{pid}/items", json={"texts": [{"text": t} for t in TEXTS]}, headers=auth(admin))
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["preannotation"] == "ok" and loaded.json()["preannotated"] == len(TEXTS)

    confidences = []
    while (reply := client.get(f"{W}/projects/{pid}/next", headers=auth(labeller))).status_code == 200:
        item = reply.json()["item"]
        assert item["prediction"]["label"] and 0 < item["prediction"]["confidence"] <= 1
        confidences.append(item["prediction"]["confidence"])
        put = client.put(
            f"{W}/projects/{pid}/items/{item['id']}/annotation", json={"labels": ["other"]}, headers=auth(labeller)
        )
        assert put.status_code == 200
    assert len(confidences) == len(TEXTS) and confidences == sorted(confidences)
    assert len(set(confidences)) > 1  # a real model, not a constant

    body = {**body, "name": "custom", "task": "no_such_task"}
    pid = client.post(f"{W}/projects", json=body, headers=auth(admin)).json()["id"]
    loaded = client.post(f"{W}/projects/{pid}/items", json={"texts": [{"text": TEXTS[0]}]}, headers=auth(admin))
    assert loaded.status_code == 200 and loaded.json()["added"] == 1
    assert loaded.json()["preannotation"] == "no_model" and "no_such_task" in loaded.json()["note"]
