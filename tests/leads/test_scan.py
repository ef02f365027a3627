"""The stale-lead scan runs inside the leads service when a channel is configured: a hot lead nobody has touched
for 48 h gets a follow-up card pushed to the chat tool (here a local webhook receiver), once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.protobuf.struct_pb2 import Struct
from salesai.scoring.v1 import scoring_pb2

from services.common.server import GrpcServer
from services.leads.config import LeadsSettings
from services.leads.server import create_server
from services.suggestions.channels import ChannelConfig

from ..suggestions.conftest import Receiver, receiver  # noqa: F401 - the local webhook endpoint
from .conftest import register
from .test_service import _predictions, _store_messages


@pytest.fixture
def scanning(migrated_url: str, data_dir: Path, encoder, redactor, receiver: Receiver) -> Iterator[GrpcServer]:  # noqa: F811
    settings = LeadsSettings(
        port=0,
        data_dir=data_dir,
        database_url=migrated_url,
        similar=False,
        scan_interval_s=1,
        channels=[ChannelConfig(name="team", kind="webhook", url=receiver.url, secret="hook-secret")],
    )
    server, _ = create_server(settings, encoder=encoder, redactor=redactor)
    yield server
    server.stop(0)


def test_a_stale_hot_lead_gets_a_follow_up_card(
    scanning: GrpcServer,
    stubs,
    receiver: Receiver,  # noqa: F811
    data_dir: Path,
    trees,
    migrated_url: str,
) -> None:
    register(data_dir, trees)
    stub, _ = stubs  # a second leads process, without channels, sets the scene before the scanning one starts
    fields = Struct()
    fields.update({"industry": "software", "company_size": 5000, "demo_requested": True})
    touched = datetime.now(UTC) - timedelta(hours=72)
    request = scoring_pb2.UpsertLeadRequest(tenant_id="acme", lead_id="HOT-1", stage="proposal", fields=fields)
    request.last_touch_at.FromDatetime(touched)
    stub.UpsertLead(request)
    ids = _store_messages(migrated_url, "acme", "HOT-1", ["报价多少？", "有折扣吗", "价格表发我", "能便宜点吗"])
    stub.RecordPredictions(_predictions("acme", [(i, "pricing_inquiry") for i in ids]))
    score = stub.ScoreLead(scoring_pb2.ScoreLeadRequest(tenant_id="acme", lead_id="HOT-1")).score
    assert score.probability >= 0.7, "the fixture lead must be hot for the rule to apply"

    scanning.start()  # the scan starts with the service
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not receiver.requests:
        time.sleep(0.2)
    assert receiver.requests, "the scan pushed nothing"
    time.sleep(2.5)  # two more scans: the same suggestion is not pushed again
    bodies = [json.loads(body) for _, body in receiver.requests]
    assert len(bodies) == 1, bodies
    assert "HOT-1" in json.dumps(bodies[0], ensure_ascii=False)
