"""The leads service with its similar index on a Qdrant server (``qdrant_url`` + ``qdrant_api_key``; the fake of
``tests/fakes``, as no real server runs here): a won lead's redacted messages land on the server, under the
tenant, and a new lead in the same situation is shown them as similar won cases. A wrong key stops the service
from starting (its warm-up lists the index), rather than letting it serve without its index."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from pydantic import SecretStr
from qdrant_client.http.exceptions import UnexpectedResponse
from salesai.scoring.v1 import scoring_pb2, scoring_pb2_grpc
from salesai.suggestions.v1 import suggestions_pb2, suggestions_pb2_grpc

from services.common.server import GrpcServer
from services.leads.config import LeadsSettings
from services.leads.server import create_server as create_leads
from services.suggestions.similar import DEFAULT_COLLECTION

from ..fakes.qdrant_server import FakeQdrant, serve
from .test_service import FREEZE, _predictions, _store_messages

pytestmark = pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection:UserWarning")
QDRANT_KEY = "leads-qdrant-key"


@pytest.fixture
def fake_qdrant() -> Iterator[FakeQdrant]:
    with serve(api_key=QDRANT_KEY) as fake:
        yield fake


def settings(url: str, data_dir: Path, qdrant_url: str, key: str) -> LeadsSettings:
    return LeadsSettings(
        port=0, data_dir=data_dir, database_url=url, qdrant_url=qdrant_url, qdrant_api_key=SecretStr(key)
    )


@pytest.fixture
def channel(migrated_url: str, data_dir: Path, encoder, redactor, fake_qdrant: FakeQdrant) -> Iterator[grpc.Channel]:
    server: GrpcServer
    server, _ = create_leads(
        settings(migrated_url, data_dir, fake_qdrant.url, QDRANT_KEY), encoder=encoder, redactor=redactor
    )
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as chan:
        yield chan
    server.stop(0)


def test_a_won_lead_is_indexed_on_the_server_and_cited(
    channel: grpc.Channel, migrated_url: str, data_dir: Path, fake_qdrant: FakeQdrant
) -> None:
    scoring = scoring_pb2_grpc.ScoringServiceStub(channel)
    suggestions = suggestions_pb2_grpc.SuggestionServiceStub(channel)
    scoring.UpsertLead(scoring_pb2.UpsertLeadRequest(tenant_id="acme", lead_id="W-1", stage="negotiation"))
    won_ids = _store_messages(migrated_url, "acme", "W-1", [FREEZE, "预算解冻后我们签了合同"])
    won = scoring.RecordOutcome(scoring_pb2.RecordOutcomeRequest(tenant_id="acme", lead_id="W-1", outcome="won"))
    assert won.cases_indexed == 2

    points = fake_qdrant.collections[DEFAULT_COLLECTION].points.values()
    assert sorted(p.payload["case_id"] for p in points) == sorted(won_ids)
    assert {(p.payload["tenant_id"], p.payload["outcome"], p.payload["lead_id"]) for p in points} == {
        ("acme", "won", "W-1")
    }
    assert all(wait for _, wait in fake_qdrant.writes)
    assert not (data_dir / "qdrant").exists()  # nothing went to an embedded index

    ids = _store_messages(migrated_url, "acme", "N-1", ["预算冻结了，采购暂停"])
    scoring.RecordPredictions(_predictions("acme", [(ids[0], "budget_freeze")]))
    reply = suggestions.Suggest(suggestions_pb2.SuggestRequest(tenant_id="acme", lead_id="N-1", limit=10))
    detail = next(d for s, d in zip(reply.suggestions, reply.details, strict=True) if s.action == "pause_quote_pushes")
    similar = json.loads(detail.evidence_json)["similar"]
    assert similar and {c["case_id"] for c in similar} <= set(won_ids) and similar[0]["outcome"] == "won"

    globex = _store_messages(migrated_url, "globex", "G-1", ["预算冻结了，采购暂停"])
    scoring.RecordPredictions(_predictions("globex", [(globex[0], "budget_freeze")]))
    other = suggestions.Suggest(suggestions_pb2.SuggestRequest(tenant_id="globex", lead_id="G-1", limit=10))
    assert other.details and all(json.loads(d.evidence_json)["similar"] == [] for d in other.details)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_wrong_api_key_stops_the_service_starting(
    migrated_url: str, data_dir: Path, encoder, redactor, fake_qdrant: FakeQdrant
) -> None:
    server, _ = create_leads(
        settings(migrated_url, data_dir, fake_qdrant.url, "not-the-key"), encoder=encoder, redactor=redactor
    )
    with pytest.raises(UnexpectedResponse) as refused:
        server.start()
    server.stop(0)
    assert refused.value.status_code == 401
    assert DEFAULT_COLLECTION not in fake_qdrant.collections
