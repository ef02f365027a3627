"""Interaction direction end to end (issue #5): inbound (the customer) and outbound (the rep) stored through gRPC
and REST, refused when it is anything else, shown in the customer export, and read back by live scoring so that
reply latency and touches come from database rows — equal to the file path's values. SQLite, then PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from fastapi.testclient import TestClient
from salesai.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from sqlalchemy import func, select

from services.common.server import GrpcServer
from services.common.storage import Database
from services.common.storage.models import Interaction, InteractionPrediction, Suggestion
from services.leads.scorer import feature_row, touches
from services.leads.store import LeadStore, LeadUpsert
from services.scoring.signals import NEVER_DAYS, build_table, read_touches

from ..gateway.conftest import auth
from .conftest import register

AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FREEZE = "我们公司预算冻结了，这个季度所有采购都暂停"
#: (hours before AS_OF, direction): the rep answers after 2 h and 6 h; the last question is still unanswered
CONVERSATION = [(50, "inbound"), (48, "outbound"), (30, "inbound"), (24, "outbound"), (3, "inbound")]


def _count(url: str, model: type, *where: object) -> int:
    db = Database(url)
    with db.session() as s:
        n = s.scalar(select(func.count()).select_from(model).where(*where))
    db.dispose()
    return int(n or 0)


@pytest.fixture
def ingestion_stub(ingestion: GrpcServer):  # type: ignore[no-untyped-def]
    with grpc.insecure_channel(f"127.0.0.1:{ingestion.port}") as channel:
        yield ingestion_pb2_grpc.IngestionServiceStub(channel)


def test_grpc_stores_direction_refuses_others_and_exports_it(ingestion_stub, migrated_url: str) -> None:
    def ingest(external_id: str, direction: str) -> ingestion_pb2.IngestResponse:
        request = ingestion_pb2.IngestRequest(
            tenant_id="acme", external_id=external_id, customer_id="c-1", text=b"see you at 10", direction=direction
        )
        return ingestion_stub.Ingest(request, timeout=10)

    assert ingest("m-1", "").interaction.direction == "inbound"  # a client that predates the field
    assert ingest("m-2", "outbound").interaction.direction == "outbound"
    assert ingest("m-3", "inbound").interaction.direction == "inbound"
    for bad in ("OUTBOUND", "reply", "out bound"):
        with pytest.raises(grpc.RpcError) as info:
            ingest(f"bad-{bad}", bad)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "direction must be inbound (from the customer) or outbound (from the rep)" in info.value.details()
    assert _count(migrated_url, Interaction) == 3  # nothing of the refused ones was stored

    export = ingestion_stub.ExportCustomer(ingestion_pb2.ExportCustomerRequest(tenant_id="acme", customer_id="c-1"))
    assert [(i.external_id, i.direction) for i in export.interactions] == [
        ("m-1", "inbound"),
        ("m-2", "outbound"),
        ("m-3", "inbound"),
    ]
    got = ingestion_stub.GetInteraction(
        ingestion_pb2.GetInteractionRequest(tenant_id="acme", interaction_id=export.interactions[1].id)
    )
    assert got.direction == "outbound"


def test_rest_stores_direction_refuses_others_and_exports_it(client: TestClient, tokens: dict[str, str]) -> None:
    crm = tokens["crm_backend"]
    base = {"customer_id": "c-2", "text": "Thanks, I will send the quote today."}
    for external_id, extra in [("r-1", {}), ("r-2", {"direction": "outbound"}), ("r-3", {"direction": "inbound"})]:
        reply = client.post("/v1/interactions", json={**base, "external_id": external_id, **extra}, headers=auth(crm))
        assert reply.status_code == 201, reply.text
        assert reply.json()["interaction"]["direction"] == extra.get("direction", "inbound")
    for path in ("/v1/interactions", "/v1/analyze"):
        bad = client.post(path, json={**base, "external_id": "r-bad", "direction": "rep"}, headers=auth(crm))
        assert bad.status_code == 422, bad.text
        assert "direction: Input should be 'inbound' or 'outbound'" in bad.json()["error"]["message"]
    exported = client.get("/v1/customers/c-2/export", headers=auth(crm)).json()["interactions"]
    assert [(i["external_id"], i["direction"]) for i in exported] == [
        ("r-1", "inbound"),
        ("r-2", "outbound"),
        ("r-3", "inbound"),
    ]
    stored = client.get(f"/v1/interactions/{exported[1]['id']}", headers=auth(crm))
    assert stored.json()["direction"] == "outbound"


def test_reply_latency_from_database_rows_equals_the_file_path(
    client: TestClient, tokens: dict[str, str], migrated_url: str, tmp_path: Path
) -> None:
    """The same conversation sent through REST and written as a signals file: identical feature rows."""
    records = []
    for n, (hours, direction) in enumerate(CONVERSATION):
        at = (AS_OF - timedelta(hours=hours)).isoformat()
        body = {"external_id": f"lat-{n}", "lead_id": "lead-lat", "text": f"message {n}", "occurred_at": at}
        reply = client.post(
            "/v1/interactions", json={**body, "direction": direction}, headers=auth(tokens["crm_backend"])
        )
        assert reply.status_code == 201, reply.text
        records.append({"lead_id": "lead-lat", "occurred_at": at, "direction": direction})
    path = tmp_path / "interactions.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))

    db = Database(migrated_url)
    history = LeadStore(db).history("acme", "lead-lat")
    db.dispose()
    live = feature_row(history, AS_OF, 30.0)
    from_file = build_table(read_touches(path), as_of=AS_OF).iloc[0].drop("lead_id").to_dict()
    assert live == from_file
    assert live["reply_latency_hours_median"] == pytest.approx(4.0)  # median of 2 h and 6 h
    assert (live["inbound_30d"], live["outbound_30d"]) == (3, 2)
    assert live["days_since_last_touch"] == pytest.approx(1.0) and live["days_since_last_inbound"] == 0.125


def test_crm_last_touch_counts_once_and_only_when_newer(migrated_url: str) -> None:
    """The CRM's last touch is an extra outbound touch only when it is later than every stored rep message."""
    db = Database(migrated_url)
    store = LeadStore(db)
    store.upsert(LeadUpsert(tenant_id="acme", lead_id="lead-crm"))
    with db.session() as s:
        for n, (hours, direction) in enumerate(CONVERSATION):
            s.add(
                Interaction(
                    tenant_id="acme",
                    external_id=f"crm-{n}",
                    lead_id="lead-crm",
                    direction=direction,
                    language="en",
                    redacted_text=f"message {n}",
                    occurred_at=AS_OF - timedelta(hours=hours),
                )
            )
    last_reply = AS_OF - timedelta(hours=24)
    for crm_touch, outbound, latest in [
        (last_reply, 2, last_reply),  # the same touch as the stored reply: not counted twice
        (AS_OF - timedelta(hours=40), 2, last_reply),  # an older one: the stored replies already say more
        (AS_OF - timedelta(hours=1), 3, AS_OF - timedelta(hours=1)),  # a later call with no message: one more
    ]:
        store.upsert(LeadUpsert(tenant_id="acme", lead_id="lead-crm", last_touch_at=crm_touch))
        history = store.history("acme", "lead-crm")
        assert [v.occurred_at for v in history.outbound] == [AS_OF - timedelta(hours=48), last_reply]
        assert sum(not t.inbound for t in touches(history)) == outbound
        assert history.last_touch_at == latest
    db.dispose()


def test_analyze_an_outbound_message_stores_and_rescores_without_intent(
    client: TestClient, tokens: dict[str, str], data_dir: Path, trees, migrated_url: str
) -> None:
    crm = tokens["crm_backend"]
    register(data_dir, trees)
    asked = client.post(
        "/v1/analyze", json={"external_id": "an-1", "lead_id": "lead-an", "text": FREEZE}, headers=auth(crm)
    )
    assert asked.status_code == 200, asked.text
    assert asked.json()["predictions"] and asked.json()["suggestions"]
    before = client.get("/v1/leads/lead-an/score", params={"top": 100}, headers=auth(crm)).json()
    assert {f["name"]: f["value"] for f in before["factors"]}["days_since_last_touch"] == NEVER_DAYS  # no touch yet
    suggestions = _count(migrated_url, Suggestion)

    # the rep answers with words a customer-intent model would read as a budget freeze: still no intent, no rule
    answer = {"external_id": "an-2", "lead_id": "lead-an", "text": "明白，预算冻结期间我先暂停报价。"}
    replied = client.post("/v1/analyze", json={**answer, "direction": "outbound"}, headers=auth(crm))
    assert replied.status_code == 200, replied.text
    body = replied.json()
    assert body["interaction"]["direction"] == "outbound"
    assert body["predictions"] == [] and body["suggestions"] == []
    assert body["score_source"] == "model" and body["score"]["lead_id"] == "lead-an"
    outbound_id = body["interaction"]["id"]
    assert _count(migrated_url, InteractionPrediction, InteractionPrediction.interaction_id == outbound_id) == 0
    assert _count(migrated_url, Suggestion) == suggestions

    # rescored from the stored reply: the rep's last touch is now
    scored = client.get("/v1/leads/lead-an/score", params={"top": 100}, headers=auth(crm)).json()
    values = {f["name"]: f["value"] for f in scored["factors"]}
    assert values["days_since_last_touch"] == pytest.approx(0.0, abs=0.01)
    assert scored["probability"] == pytest.approx(body["score"]["probability"], abs=1e-9)


def test_analyze_outbound_without_a_model_or_a_lead(client: TestClient, tokens: dict[str, str]) -> None:
    crm = tokens["crm_backend"]
    text = "I'll send the revised quote tomorrow."
    for external_id, lead_id in [("nm-1", "lead-nm"), ("nm-2", "")]:
        body = {"external_id": external_id, "lead_id": lead_id, "text": text, "direction": "outbound"}
        reply = client.post("/v1/analyze", json=body, headers=auth(crm))
        assert reply.status_code == 200, reply.text
        answer = reply.json()
        assert answer["interaction"]["direction"] == "outbound"
        assert (answer["predictions"], answer["suggestions"], answer["score"]) == ([], [], None)
        assert answer["score_source"] == "none"
    # the rep's message named a lead the CRM had not sent: it exists now (409: no model yet, not 404: no lead)
    scored = client.get("/v1/leads/lead-nm/score", headers=auth(crm))
    assert scored.status_code == 409, scored.text
