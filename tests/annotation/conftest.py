"""The gateway in-process (TestClient) in front of a real ingestion gRPC server on an ephemeral port, on SQLite
and PostgreSQL (``database_url`` from tests/conftest.py). Inference is not running: pre-annotation must degrade."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from gateway.auth import KeyStore
from gateway.config import GatewaySettings
from gateway.main import create_app
from services.common.roles import Role
from services.common.server import GrpcServer
from services.ingestion.config import IngestionSettings
from services.ingestion.redaction import RedactionConfig, Redactor
from services.ingestion.server import create_server


@pytest.fixture(scope="session")
def redactor() -> Redactor:
    return Redactor(RedactionConfig(use_spacy=False))


@pytest.fixture
def ingestion(migrated_url: str, secrets_env: dict[str, str], redactor: Redactor) -> Iterator[GrpcServer]:
    server, _ = create_server(IngestionSettings(port=0, database_url=migrated_url), redactor=redactor)
    server.start()
    yield server
    server.stop(0)


@pytest.fixture
def client(migrated_url: str, ingestion: GrpcServer) -> Iterator[TestClient]:
    settings = GatewaySettings(
        database_url=migrated_url,
        ingestion_url=f"127.0.0.1:{ingestion.port}",
        inference_url="127.0.0.1:1",  # nothing listens: pre-annotation must report "unavailable", not fail
        training_url="127.0.0.1:1",  # nor here: "train from this snapshot" must answer 503, not fail
        deadline_seconds=5,
        key_cache_seconds=0,
        rate_limit="",
        workbench_max_items=50,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def keys(client: TestClient) -> KeyStore:
    return client.app.state.keys  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def tokens(keys: KeyStore) -> dict[str, str]:
    """One key per role for tenant acme, a second labeller, and a globex project admin."""
    minted = {role.value: keys.create("acme", role).token for role in Role}
    minted["labeller2"] = keys.create("acme", Role.LABELLER).token
    minted["globex_admin"] = keys.create("globex", Role.PROJECT_ADMIN).token
    return minted


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def key_user(token: str) -> str:
    """The labeller id the API reports for a token: ``key:<id>``."""
    return "key:" + token.split("_")[1]
