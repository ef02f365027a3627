"""The leads service on an ephemeral port (real database, real base encoder, embedded Qdrant), a real inference
service and the gateway in front of them, plus scoring models trained for real on a lead table whose columns are
the signals the service computes from the database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pandas as pd
import pytest
from salesai.scoring.v1 import scoring_pb2_grpc
from salesai.suggestions.v1 import suggestions_pb2_grpc

from gateway.config import GatewaySettings
from models.config import ModelSettings
from services.common.server import GrpcServer
from services.inference.config import InferenceSettings
from services.inference.server import create_server as create_inference
from services.leads.config import LeadsSettings
from services.leads.server import create_server as create_leads
from services.scoring.config import TrainConfig
from services.scoring.model import TrainResult, train
from services.scoring.registry import ScoringRegistry
from services.scoring.synthetic import make_leads, sample_leads
from services.suggestions.callback import CallbackChannel

from ..gateway.conftest import client, ingestion, redactor, tokens  # noqa: F401 - shared fixtures

CALLBACK_SECRET = "test-callback-secret"
#: the synthetic table's columns renamed to what the leads service computes (signals) or stores (custom fields)
SIGNAL_COLUMNS = {"price_inquiries_30d": "pricing_inquiry_30d", "budget_freeze_mentions": "budget_freeze_30d"}


def signal_table(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["owner_email"]).rename(columns=SIGNAL_COLUMNS)


@pytest.fixture(scope="session")
def trees() -> TrainResult:
    """Gradient-boosted trees on 800 leads: industry, company_size, demo_requested (custom fields) and
    pricing_inquiry_30d, budget_freeze_30d, days_since_last_touch (signals from the database)."""
    table = signal_table(make_leads())
    return train(table, TrainConfig(target="outcome", time_column="created_at", id_column="lead_id"))


@pytest.fixture(scope="session")
def naive_bayes() -> TrainResult:
    """Too little data for trees (12 won, 12 lost): the naive-Bayes fallback."""
    table = signal_table(sample_leads(12, 12))
    return train(table, TrainConfig(target="outcome", time_column="created_at", id_column="lead_id"))


def register(data_dir: Path, result: TrainResult) -> str:
    return ScoringRegistry(data_dir / "scoring").register("default", result, {"file": "synthetic", "rows": 0}).version


@pytest.fixture
def data_dir(secrets_env: dict[str, str]) -> Path:
    return Path(secrets_env["SALESAI_DATA_DIR"])


@pytest.fixture
def leads_service(migrated_url: str, data_dir: Path, encoder, redactor) -> Iterator[GrpcServer]:  # noqa: F811
    settings = LeadsSettings(port=0, data_dir=data_dir, database_url=migrated_url, qdrant_path=data_dir / "qdrant")
    server, _ = create_leads(settings, encoder=encoder, redactor=redactor)
    server.start()
    yield server
    server.stop(0)


@pytest.fixture
def stubs(
    leads_service: GrpcServer,
) -> Iterator[tuple[scoring_pb2_grpc.ScoringServiceStub, suggestions_pb2_grpc.SuggestionServiceStub]]:
    channel = grpc.insecure_channel(f"127.0.0.1:{leads_service.port}")
    yield scoring_pb2_grpc.ScoringServiceStub(channel), suggestions_pb2_grpc.SuggestionServiceStub(channel)
    channel.close()


@pytest.fixture
def inference(encoder, migrated_url: str, data_dir: Path) -> Iterator[GrpcServer]:
    settings = InferenceSettings(
        port=0,
        data_dir=data_dir,
        database_url=migrated_url,
        models=ModelSettings(data_dir=data_dir, database_url=migrated_url),
    )
    server, _ = create_inference(settings, encoder=encoder)
    server.start()
    yield server
    server.stop(0)


@pytest.fixture
def gateway_settings(
    migrated_url: str,
    ingestion: GrpcServer,  # noqa: F811
    inference: GrpcServer,
    leads_service: GrpcServer,
) -> GatewaySettings:
    return GatewaySettings(
        database_url=migrated_url,
        ingestion_url=f"127.0.0.1:{ingestion.port}",
        inference_url=f"127.0.0.1:{inference.port}",
        leads_url=f"127.0.0.1:{leads_service.port}",
        deadline_seconds=30,
        key_cache_seconds=0,
        callbacks={"sales-webhook": CallbackChannel(tenant_id="acme", secret=CALLBACK_SECRET)},
    )
