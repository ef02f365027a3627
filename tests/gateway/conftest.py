"""The gateway app in-process (TestClient) in front of a real ingestion gRPC server on an ephemeral port."""

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
    server, _ = create_server(
        IngestionSettings(port=0, database_url=migrated_url, max_text_bytes=2000), redactor=redactor
    )
    server.start()
    yield server
    server.stop(0)


@pytest.fixture
def gateway_settings(migrated_url: str, ingestion: GrpcServer) -> GatewaySettings:
    return GatewaySettings(
        database_url=migrated_url,
        ingestion_url=f"127.0.0.1:{ingestion.port}",
        leads_url="127.0.0.1:1",  # no leads service in these tests (never whatever listens on the default port)
        training_url="127.0.0.1:1",  # nor a training service
        max_body_bytes=4096,
        deadline_seconds=5,
        key_cache_seconds=0,
        rate_limit="",  # fuzzing sends thousands of requests per key: let them reach the routes (limits: test_api)
    )


@pytest.fixture
def client(gateway_settings: GatewaySettings) -> Iterator[TestClient]:
    with TestClient(create_app(gateway_settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def tokens(client: TestClient) -> dict[str, str]:
    keys: KeyStore = client.app.state.keys  # type: ignore[attr-defined]
    minted = {role.value: keys.create("acme", role).token for role in Role}
    minted["globex_crm"] = keys.create("globex", Role.CRM_BACKEND).token
    minted["globex_admin"] = keys.create("globex", Role.ADMIN).token
    return minted


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
