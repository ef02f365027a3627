"""REST through the gateway in front of real ingestion, inference and leads services (SQLite, then PostgreSQL)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import select

from services.common.storage import Database
from services.common.storage.models import InteractionPrediction, Suggestion, SuggestionFeedback
from services.scoring.registry import ScoringRegistry
from services.suggestions.signing import signed_headers

from ..gateway.conftest import auth
from .conftest import CALLBACK_SECRET, register

PHONE = "13987654321"
FREEZE = f"王先生您好，我的手机{PHONE}。预算冻结了，今年的采购全部暂停。"


def _lead(client: TestClient, token: str, lead_id: str, **body: object):  # type: ignore[no-untyped-def]
    return client.put(f"/v1/leads/{lead_id}", json=body, headers=auth(token))


def test_budget_freeze_through_analyze_is_scored_suggested_and_stored(
    client: TestClient, tokens: dict[str, str], data_dir: Path, trees, migrated_url: str
) -> None:
    crm, rep = tokens["crm_backend"], tokens["sales_rep"]
    register(data_dir, trees)
    fields = {"industry": "software", "company_size": 400, "demo_requested": True}
    created = _lead(client, crm, "lead-bf", customer_id="cust-bf", stage="proposal", language="zh", fields=fields)
    assert created.status_code == 201, created.text
    assert created.json()["lead"]["fields"] == fields

    reply = client.post(
        "/v1/analyze", json={"external_id": "bf-1", "lead_id": "lead-bf", "text": FREEZE}, headers=auth(crm)
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert PHONE not in reply.text
    interaction_id = body["interaction"]["id"]
    assert body["predictions"][0]["label"] == "budget_freeze"
    actions = {s["action"]: s for s in body["suggestions"]}
    assert {"pause_quote_pushes", "alert_manager"} <= set(actions)
    for name in ("pause_quote_pushes", "alert_manager"):
        evidence = actions[name]["evidence"]
        assert evidence["interaction_ids"] == [interaction_id]
        assert evidence["predictions"][0]["label"] == "budget_freeze"
    assert actions["pause_quote_pushes"]["draft"]["language"] == "zh"

    # the score: fresh from the model, its factors plus the base value reproduce the model's output
    assert body["score_source"] == "model"
    scored = client.get("/v1/leads/lead-bf/score", params={"top": 100, "language": "en"}, headers=auth(rep))
    assert scored.status_code == 200, scored.text
    score = scored.json()
    model, _ = ScoringRegistry(data_dir / "scoring").load("default")
    raw = score["base_value"] + sum(f["contribution"] for f in score["factors"])
    assert score["probability"] == pytest.approx(float(model.calibrator(np.asarray([raw]))[0]), abs=1e-9)
    assert score["probability"] == pytest.approx(body["score"]["probability"], abs=1e-9)
    assert {f["name"]: f["value"] for f in score["factors"]}["budget_freeze_30d"] == 1

    # predictions and suggestions are stored; a later read gives the same suggestions
    db = Database(migrated_url)
    with db.session() as s:
        tasks = {p.task for p in s.scalars(select(InteractionPrediction)) if p.interaction_id == interaction_id}
        stored = {row.id for row in s.scalars(select(Suggestion))}
    assert tasks == {"intent", "risk"}
    assert {s["id"] for s in body["suggestions"]} <= stored
    listed = client.get("/v1/leads/lead-bf/suggestions", params={"limit": 20}, headers=auth(rep))
    assert listed.status_code == 200 and listed.json()["score_source"] == "model"
    assert {s["id"] for s in listed.json()["suggestions"]} == {s["id"] for s in body["suggestions"]}

    pause_id = actions["pause_quote_pushes"]["id"]
    feedback = client.post(
        f"/v1/suggestions/{pause_id}/feedback",
        json={"decision": "edited", "edited_text": f"先暂停报价，回电{PHONE}"},
        headers=auth(rep),
    )
    assert feedback.status_code == 201, feedback.text
    with db.session() as s:
        row = s.scalars(select(SuggestionFeedback)).one()
    db.dispose()
    assert row.decision == "edited" and PHONE not in row.edited_text and row.actor.startswith("key:")

    # another tenant: every lead route is 404, never 403
    globex = tokens["globex_crm"]
    for method, path, payload in [
        ("GET", "/v1/leads/lead-bf/score", None),
        ("GET", "/v1/leads/lead-bf/suggestions", None),
        ("POST", "/v1/leads/lead-bf/outcome", {"outcome": "won"}),
        ("POST", f"/v1/suggestions/{pause_id}/feedback", {"decision": "accepted"}),
    ]:
        other = client.request(method, path, json=payload, headers=auth(globex))
        assert other.status_code == 404, (path, other.status_code, other.text)


def _query_vectors() -> dict[str, float]:
    return {
        source: REGISTRY.get_sample_value("salesai_similar_query_vectors_total", {"source": source}) or 0.0
        for source in ("classification", "embedded")
    }


def test_analyze_searches_similar_won_cases_with_the_vector_of_its_own_classification_pass(
    client: TestClient, tokens: dict[str, str]
) -> None:
    """The message is embedded in the classification pass; the leads service searches with that vector and
    never runs its encoder on the message again, and the reply cites the closest won case."""
    crm = tokens["crm_backend"]
    assert _lead(client, crm, "lead-won", customer_id="cust-w", stage="proposal").status_code == 201
    won = client.post(
        "/v1/analyze",
        json={"external_id": "sw-1", "lead_id": "lead-won", "text": "预算冻结了，今年的采购全部暂停，明年再说。"},
        headers=auth(crm),
    )
    assert won.status_code == 200, won.text
    outcome = client.post("/v1/leads/lead-won/outcome", json={"outcome": "won"}, headers=auth(crm))
    assert outcome.status_code == 201 and outcome.json()["cases_indexed"] == 1, outcome.text

    before = _query_vectors()
    reply = client.post(
        "/v1/analyze",
        json={"external_id": "sw-2", "lead_id": "lead-new", "text": "我们的预算冻结了，采购先暂停。"},
        headers=auth(crm),
    )
    assert reply.status_code == 200, reply.text
    suggestions = reply.json()["suggestions"]
    cited = {c["case_id"] for s in suggestions for c in s["evidence"]["similar"]}
    assert won.json()["interaction"]["id"] in cited
    after = _query_vectors()
    assert after["classification"] == before["classification"] + 1  # every rule on the message: one search
    assert after["embedded"] == before["embedded"]
    stages = dict(part.strip().split(";dur=") for part in reply.headers["server-timing"].split(","))
    assert set(stages) == {"ingest", "classify", "suggest"} and all(float(v) >= 0 for v in stages.values())


def _classified(task: str = "intent") -> float:
    """Texts the inference service has classified for ``task`` (its Prometheus counter; it runs in this process)."""
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "salesai_inference_predictions"
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels.get("task") == task
    )


def test_analyze_classifies_only_the_recent_messages_never_classified(
    client: TestClient, tokens: dict[str, str], migrated_url: str
) -> None:
    """A recent message analyzed before keeps its stored predictions; one ingested without classification is
    classified with the new message, and its predictions are stored; the playbook sees all three."""
    crm = tokens["crm_backend"]
    seen = client.post(
        "/v1/analyze",
        json={"external_id": "r-1", "lead_id": "lead-r", "text": "你们的报价太贵了，能便宜一点吗？"},
        headers=auth(crm),
    )
    assert seen.status_code == 200, seen.text
    plain = client.post(
        "/v1/interactions",
        json={"external_id": "r-2", "lead_id": "lead-r", "text": "价格还是太高，别家便宜百分之二十。"},
        headers=auth(crm),
    )
    assert plain.status_code in (200, 201), plain.text
    ids = [seen.json()["interaction"]["id"], plain.json()["interaction"]["id"]]

    before = _classified()
    reply = client.post(
        "/v1/analyze",
        json={
            "external_id": "r-3",
            "lead_id": "lead-r",
            "text": "如果价格能再降一点，我们这个月就签。",
            "recent_interaction_ids": ids,
        },
        headers=auth(crm),
    )
    assert reply.status_code == 200, reply.text
    assert _classified() - before == 2  # the new message and the unclassified one; not the analyzed one
    db = Database(migrated_url)
    with db.session() as s:
        stored = {(p.interaction_id, p.task) for p in s.scalars(select(InteractionPrediction))}
    db.dispose()
    assert {(i, t) for i in [*ids, reply.json()["interaction"]["id"]] for t in ("intent", "risk")} <= stored


@pytest.fixture
def leads_before_get_predictions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The leads service as it was before GetPredictions, which answers UNIMPLEMENTED as gRPC does for a method a
    server lacks: a gateway upgraded first, during a rolling upgrade."""
    import grpc

    from services.leads.servicer import ScoringServicer

    def missing(self: object, request: object, context: grpc.ServicerContext) -> None:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")

    monkeypatch.setattr(ScoringServicer, "GetPredictions", missing)


def test_analyze_beside_a_leads_service_without_get_predictions_classifies_every_recent_message(
    leads_before_get_predictions: None, client: TestClient, tokens: dict[str, str]
) -> None:
    crm = tokens["crm_backend"]
    first = client.post(
        "/v1/analyze", json={"external_id": "u-1", "lead_id": "lead-u", "text": "能发一份报价单吗？"}, headers=auth(crm)
    )
    assert first.status_code == 200, first.text
    before = _classified()
    reply = client.post(
        "/v1/analyze",
        json={
            "external_id": "u-2",
            "lead_id": "lead-u",
            "text": "预算冻结了，今年的采购全部暂停。",
            "recent_interaction_ids": [first.json()["interaction"]["id"]],
        },
        headers=auth(crm),
    )
    assert reply.status_code == 200, reply.text
    assert _classified() - before == 2  # the recent message again, as before the lookup existed
    assert {"pause_quote_pushes", "alert_manager"} <= {s["action"] for s in reply.json()["suggestions"]}


def test_without_a_scoring_model_analyze_falls_back_to_the_body_score(
    client: TestClient, tokens: dict[str, str]
) -> None:
    crm = tokens["crm_backend"]
    with_score = client.post(
        "/v1/analyze",
        json={"external_id": "fb-1", "lead_id": "lead-fb", "text": "预算冻结了", "lead_score": 0.8},
        headers=auth(crm),
    )
    assert with_score.status_code == 200, with_score.text
    assert with_score.json()["score_source"] == "request" and with_score.json()["score"] is None
    without = client.post(
        "/v1/analyze", json={"external_id": "fb-2", "lead_id": "lead-fb", "text": "还在考虑"}, headers=auth(crm)
    )
    assert without.json()["score_source"] == "none"
    refused = client.get("/v1/leads/lead-fb/score", headers=auth(crm))
    assert refused.status_code == 409 and "no scoring model trained yet" in refused.json()["error"]["message"]


def test_outcomes_and_bad_input(client: TestClient, tokens: dict[str, str]) -> None:
    crm = tokens["crm_backend"]
    client.post(
        "/v1/analyze", json={"external_id": "won-1", "lead_id": "lead-won", "text": "合同已经签好了"}, headers=auth(crm)
    )
    won = client.post("/v1/leads/lead-won/outcome", json={"outcome": "won", "note": "signed"}, headers=auth(crm))
    assert won.status_code == 201, won.text
    assert won.json()["cases_indexed"] == 1 and won.json()["lead"]["outcomes"][0]["outcome"] == "won"
    again = client.post("/v1/leads/lead-won/outcome", json={"outcome": "won"}, headers=auth(crm))
    assert again.status_code == 200 and again.json()["created"] is False
    for path, payload, field in [
        ("/v1/leads/lead-won/outcome", {"outcome": "maybe"}, "outcome"),
        ("/v1/leads/lead-won/outcome", {"outcome": "lost"}, "already won"),
        ("/v1/leads/lead-x", {"fields": {"bad name": 1}}, "custom field name"),
        ("/v1/leads/lead-x", {"fields": {"nested": {"a": 1}}}, "fields.nested"),
        ("/v1/leads/lead-x", {"language": "fr"}, "language"),
        ("/v1/leads/lead-x", {"unknown": 1}, "unknown"),
    ]:
        method = "POST" if path.endswith("outcome") else "PUT"
        reply = client.request(method, path, json=payload, headers=auth(crm))
        assert reply.status_code == 422, (payload, reply.status_code)
        assert field in json.dumps(reply.json()["error"]), reply.json()
    assert client.get("/v1/leads/lead-x/score", headers=auth(crm)).status_code == 404
    assert client.get("/v1/leads/nobody/suggestions", headers=auth(crm)).status_code == 404
    rep = client.put("/v1/leads/lead-x", json={"stage": "new"}, headers=auth(tokens["sales_rep"]))
    assert rep.status_code == 403


def test_button_callbacks_are_verified_by_signature(client: TestClient, tokens: dict[str, str]) -> None:
    analyzed = client.post(
        "/v1/analyze",
        json={"external_id": "cb-1", "lead_id": "lead-cb", "text": "预算冻结了，先停一下"},
        headers=auth(tokens["crm_backend"]),
    )
    suggestion_id = analyzed.json()["suggestions"][0]["id"]

    def press(
        action: str,
        *,
        secret: str = CALLBACK_SECRET,
        channel: str = "sales-webhook",
        at: float | None = None,
        suggestion: str = suggestion_id,
        text: str = "",
    ):  # type: ignore[no-untyped-def]
        body = json.dumps({"suggestion_id": suggestion, "action": action, "actor": "U1", "edited_text": text}).encode()
        headers = {**signed_headers(secret, body, now=at), "Content-Type": "application/json"}
        return client.post(f"/v1/callbacks/{channel}", content=body, headers=headers)

    accepted = press("accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "recorded" and accepted.json()["feedback_id"]
    assert press("edit").json()["status"] == "edit_requested"
    assert press("reject").status_code == 200
    for reply in [
        press("accept", secret="wrong-secret"),
        press("accept", channel="unknown-channel"),
        press("accept", at=time.time() - 3600),
        client.post("/v1/callbacks/sales-webhook", json={"suggestion_id": suggestion_id, "action": "accept"}),
        client.post(
            "/v1/callbacks/sales-webhook",
            json={"suggestion_id": suggestion_id, "action": "accept"},
            headers=auth(tokens["admin"]),
        ),
    ]:
        assert reply.status_code == 401, reply.text
        assert reply.json()["error"]["reason"] in ("invalid_signature", "expired_signature")
    assert press("launch").status_code == 422
    assert press("accept", suggestion="f" * 32).status_code == 404
