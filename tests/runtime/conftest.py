"""A real ingestion gRPC server on an ephemeral port, and a channel to it."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from services.common.server import GrpcServer
from services.ingestion.config import IngestionSettings
from services.ingestion.redaction import RedactionConfig, Redactor
from services.ingestion.server import create_server


@pytest.fixture(scope="session")
def fast_redactor() -> Redactor:
    """One engine for the whole session (building it loads jieba); spaCy off for speed."""
    return Redactor(RedactionConfig(use_spacy=False))


@pytest.fixture
def ingestion_settings(migrated_url: str, secrets_env: dict[str, str]) -> IngestionSettings:
    return IngestionSettings(port=0, database_url=migrated_url, max_text_bytes=4096, grace_seconds=5)


@pytest.fixture
def ingestion_server(ingestion_settings: IngestionSettings, fast_redactor: Redactor) -> Iterator[GrpcServer]:
    server, _port = create_server(ingestion_settings, redactor=fast_redactor)
    server.start()
    yield server
    server.stop(0)


@pytest.fixture
def channel(ingestion_server: GrpcServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{ingestion_server.port}") as ch:
        yield ch
