"""The leads gRPC service on an ephemeral port, on SQLite and then PostgreSQL: lead records, live scoring from
stored predictions, suggestions on stored history, outcomes feeding the similar index, feedback, bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import numpy as np
import pytest
from google.protobuf.struct_pb2 import Struct
from salesai.common.v1 import types_pb2
from salesai.scoring.v1 import scoring_pb2
from salesai.suggestions.v1 import suggestions_pb2
from sqlalchemy import func, select

from services.common.storage import Database
from services.common.storage.models import (
    Interaction,
    InteractionPrediction,
    Lead,
    LeadStageChange,
    Suggestion,
    SuggestionFeedback,
    Tenant,
)
from services.scoring.registry import ScoringRegistry

from .conftest import register

NOW = datetime.now(UTC)
FREEZE = "我们公司预算冻结了，这个季度所有采购都暂停"


def _fields(**values: object) -> Struct:
    out = Struct()
    out.update(values)
    return out


def _store_messages(url: str, tenant: str, lead: str, texts: list[str]) -> list[str]:
    """Interactions as the ingestion service stores them (redacted text), oldest first, one hour apart."""
    db = Database(url)
    ids = []
    with db.session() as s:
        if s.get(Tenant, tenant) is None:
            s.add(Tenant(id=tenant, name=tenant))
            s.flush()
        for n, text in enumerate(texts):
            row = Interaction(
                tenant_id=tenant,
                external_id=f"{lead}-{n}",
                lead_id=lead,
                customer_id=f"cust-{lead}",
                language="zh",
                redacted_text=text,
                occurred_at=NOW - timedelta(hours=len(texts) - n),
            )
            s.add(row)
            s.flush()
            ids.append(row.id)
    db.dispose()
    return ids


def _predictions(tenant: str, labelled: list[tuple[str, str]]) -> scoring_pb2.RecordPredictionsRequest:
    return scoring_pb2.RecordPredictionsRequest(
        tenant_id=tenant,
        interactions=[
            scoring_pb2.InteractionPredictions(
                interaction_id=i,
                predictions=[
                    types_pb2.Prediction(
                        task="intent",
                        label=label,
                        confidence=0.9,
                        model_version="v1",
                        evidence=[types_pb2.EvidenceSpan(start=0, end=4, text="预算冻结", weight=0.8)],
                    ),
                    types_pb2.Prediction(task="risk", label="high", confidence=0.8, model_version="v1"),
                ],
            )
            for i, label in labelled
        ],
    )


def _count(url: str, model: type) -> int:
    db = Database(url)
    with db.session() as s:
        n = s.scalar(select(func.count()).select_from(model))
    db.dispose()
    return int(n or 0)


def test_upsert_tracks_stage_history_and_fields_per_tenant(stubs, migrated_url: str) -> None:
    scoring, _ = stubs
    first = scoring.UpsertLead(
        scoring_pb2.UpsertLeadRequest(
            tenant_id="acme",
            lead_id="L-1",
            customer_id="C-1",
            stage="qualified",
            fields=_fields(industry="software", company_size=250, demo_requested=True),
            actor="crm",
        )
    )
    assert first.created and first.stage_changed and first.lead.fields["company_size"] == 250
    second = scoring.UpsertLead(
        scoring_pb2.UpsertLeadRequest(
            tenant_id="acme", lead_id="L-1", stage="proposal", fields=_fields(industry=None, region="east")
        )
    )
    assert not second.created and second.stage_changed
    assert dict(second.lead.fields) == {"company_size": 250, "demo_requested": True, "region": "east"}
    assert second.lead.customer_id == "C-1" and second.lead.stage == "proposal"
    same = scoring.UpsertLead(scoring_pb2.UpsertLeadRequest(tenant_id="acme", lead_id="L-1", stage="proposal"))
    assert not same.stage_changed
    db = Database(migrated_url)
    with db.session() as s:
        moves = [
            (c.from_stage, c.to_stage) for c in s.scalars(select(LeadStageChange).order_by(LeadStageChange.changed_at))
        ]
    db.dispose()
    assert moves == [("", "qualified"), ("qualified", "proposal")]
    with pytest.raises(grpc.RpcError) as other:
        scoring.GetLead(scoring_pb2.GetLeadRequest(tenant_id="globex", lead_id="L-1"))
    assert other.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (scoring_pb2.UpsertLeadRequest(tenant_id="acme", lead_id=""), "lead_id"),
        (
            scoring_pb2.UpsertLeadRequest(tenant_id="acme", lead_id="L-2", fields=_fields(**{"bad name": 1})),
            "custom field",
        ),
        (
            scoring_pb2.UpsertLeadRequest(tenant_id="acme", lead_id="L-2", fields=_fields(nested={"a": 1})),
            "custom field",
        ),
        (scoring_pb2.UpsertLeadRequest(tenant_id="acme", lead_id="L-2", language="fr"), "language"),
    ],
)
def test_bad_lead_input_is_invalid_argument_and_stores_nothing(stubs, migrated_url: str, request_, field) -> None:
    scoring, _ = stubs
    with pytest.raises(grpc.RpcError) as err:
        scoring.UpsertLead(request_)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and field in err.value.details()
    assert _count(migrated_url, Lead) == 0


def test_scoring_needs_a_trained_model(stubs, migrated_url: str) -> None:
    scoring, _ = stubs
    scoring.UpsertLead(scoring_pb2.UpsertLeadRequest(tenant_id="acme", lead_id="L-3"))
    with pytest.raises(grpc.RpcError) as err:
        scoring.ScoreLead(scoring_pb2.ScoreLeadRequest(tenant_id="acme", lead_id="L-3"))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "no scoring model trained yet" in err.value.details()
    with pytest.raises(grpc.RpcError) as missing:
        scoring.ScoreLead(scoring_pb2.ScoreLeadRequest(tenant_id="acme", lead_id="nobody"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_score_from_stored_predictions_reproduces_the_model(stubs, migrated_url: str, data_dir: Path, trees) -> None:
    scoring, _ = stubs
    version = register(data_dir, trees)
    scoring.UpsertLead(
        scoring_pb2.UpsertLeadRequest(
            tenant_id="acme",
            lead_id="L-4",
            stage="proposal",
            fields=_fields(industry="software", company_size=400, demo_requested=True),
            last_touch_at=None,
        )
    )
    ids = _store_messages(migrated_url, "acme", "L-4", ["报价多少？", "还有折扣吗", "价格能再低点吗", FREEZE])
    labels = ["pricing_inquiry", "pricing_inquiry", "pricing_inquiry", "budget_freeze"]
    stored = scoring.RecordPredictions(_predictions("acme", list(zip(ids, labels, strict=True))))
    assert stored.stored == 8
    again = scoring.RecordPredictions(_predictions("acme", list(zip(ids, labels, strict=True))))
    assert again.stored == 0  # idempotent per (interaction, task, model version)

    reply = scoring.ScoreLead(
        scoring_pb2.ScoreLeadRequest(tenant_id="acme", lead_id="L-4", language="en", top_factors=100)
    )
    model, _ = ScoringRegistry(data_dir / "scoring").load("default")
    total = sum(f.contribution for f in reply.score.factors) + reply.base_value
    assert reply.score.probability == pytest.approx(float(model.calibrator(np.asarray([total]))[0]), abs=1e-9)
    assert reply.score.model_version == version and reply.model_kind == "lightgbm" and not reply.fallback
    values = {f.name: f.value for f in reply.score.factors}
    assert values["pricing_inquiry_30d"] == 3 and values["budget_freeze_30d"] == 1
    assert values["company_size"] == 400
    assert 0 <= reply.score.score <= 100
    zh = scoring.ScoreLead(scoring_pb2.ScoreLeadRequest(tenant_id="acme", lead_id="L-4", language="zh", top_factors=2))
    assert len(zh.score.factors) <= 4 and all("评分" in f.description for f in zh.score.factors)
    assert zh.score.probability == reply.score.probability


def test_naive_bayes_fallback_scores_too(stubs, migrated_url: str, data_dir: Path, naive_bayes) -> None:
    scoring, _ = stubs
    register(data_dir, naive_bayes)
    scoring.UpsertLead(scoring_pb2.UpsertLeadRequest(tenant_id="acme", lead_id="L-5", fields=_fields(company_size=50)))
    reply = scoring.ScoreLead(scoring_pb2.ScoreLeadRequest(tenant_id="acme", lead_id="L-5", top_factors=100))
    assert reply.fallback and reply.model_kind == "naive_bayes"
    model, _ = ScoringRegistry(data_dir / "scoring").load("default")
    total = sum(f.contribution for f in reply.score.factors) + reply.base_value
    assert reply.score.probability == pytest.approx(float(model.calibrator(np.asarray([total]))[0]), abs=1e-9)


def test_suggest_on_stored_history_stores_suggestions_and_feedback(stubs, migrated_url: str) -> None:
    scoring, suggestions = stubs
    ids = _store_messages(migrated_url, "acme", "L-6", ["你好，想了解一下产品", FREEZE])
    scoring.RecordPredictions(_predictions("acme", [(ids[0], "info_request"), (ids[1], "budget_freeze")]))
    reply = suggestions.Suggest(suggestions_pb2.SuggestRequest(tenant_id="acme", lead_id="L-6", limit=10))
    assert reply.score_source == suggestions_pb2.SCORE_SOURCE_NONE and not reply.HasField("score")
    by_action = {s.action: (s, d) for s, d in zip(reply.suggestions, reply.details, strict=True)}
    assert {"pause_quote_pushes", "alert_manager"} <= set(by_action)
    pause, detail = by_action["pause_quote_pushes"]
    assert list(pause.evidence[0].interaction_ids) == [ids[1]]
    assert detail.language == "zh" and pause.draft.startswith("【AI草稿")
    assert _count(migrated_url, Suggestion) == len(reply.suggestions)
    repeat = suggestions.Suggest(suggestions_pb2.SuggestRequest(tenant_id="acme", lead_id="L-6", limit=10))
    assert [s.id for s in repeat.suggestions] == [s.id for s in reply.suggestions]
    assert _count(migrated_url, Suggestion) == len(reply.suggestions)  # deterministic ids: stored once

    suggestions.RecordFeedback(
        suggestions_pb2.RecordFeedbackRequest(
            tenant_id="acme",
            suggestion_id=pause.id,
            kind=suggestions_pb2.FEEDBACK_KIND_EDITED,
            edited_draft="先暂停报价，请致电13812345678",
            actor="rep-1",
        )
    )
    db = Database(migrated_url)
    with db.session() as s:
        feedback = s.scalars(select(SuggestionFeedback)).one()
    db.dispose()
    assert feedback.decision == "edited" and "13812345678" not in feedback.edited_text
    for tenant, kind, code in [
        ("globex", suggestions_pb2.FEEDBACK_KIND_ACCEPTED, grpc.StatusCode.NOT_FOUND),
        ("acme", suggestions_pb2.FEEDBACK_KIND_UNSPECIFIED, grpc.StatusCode.INVALID_ARGUMENT),
    ]:
        with pytest.raises(grpc.RpcError) as err:
            suggestions.RecordFeedback(
                suggestions_pb2.RecordFeedbackRequest(tenant_id=tenant, suggestion_id=pause.id, kind=kind)
            )
        assert err.value.code() == code
    with pytest.raises(grpc.RpcError) as other:
        suggestions.Suggest(suggestions_pb2.SuggestRequest(tenant_id="globex", lead_id="L-6"))
    assert other.value.code() == grpc.StatusCode.NOT_FOUND


def test_suggest_stores_the_predictions_it_is_given_first(stubs, migrated_url: str) -> None:
    """/v1/analyze's single call: the new message's predictions are stored, then the playbook sees them."""
    _, suggestions = stubs
    ids = _store_messages(migrated_url, "acme", "L-8", [FREEZE])
    request = suggestions_pb2.SuggestRequest(tenant_id="acme", lead_id="L-8", limit=10)
    request.record.extend(_predictions("acme", [(ids[0], "budget_freeze")]).interactions)
    reply = suggestions.Suggest(request)
    assert {"pause_quote_pushes", "alert_manager"} <= {s.action for s in reply.suggestions}
    assert _count(migrated_url, InteractionPrediction) == 2  # intent and risk
    unknown = suggestions_pb2.SuggestRequest(tenant_id="acme", lead_id="L-8")
    unknown.record.extend(_predictions("acme", [("0" * 32, "budget_freeze")]).interactions)
    with pytest.raises(grpc.RpcError) as err:
        suggestions.Suggest(unknown)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert _count(migrated_url, InteractionPrediction) == 2


def test_predictions_for_an_unknown_interaction_store_nothing(stubs, migrated_url: str) -> None:
    scoring, _ = stubs
    ids = _store_messages(migrated_url, "acme", "L-7", ["hello"])
    request = _predictions("acme", [(ids[0], "info_request"), ("0" * 32, "budget_freeze")])
    with pytest.raises(grpc.RpcError) as err:
        scoring.RecordPredictions(request)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as foreign:
        scoring.RecordPredictions(_predictions("globex", [(ids[0], "info_request")]))
    assert foreign.value.code() == grpc.StatusCode.NOT_FOUND
    assert _count(migrated_url, InteractionPrediction) == 0


def test_stored_predictions_are_read_back_per_tenant(stubs, migrated_url: str) -> None:
    """GetPredictions: the newest prediction per task of each classified message; unclassified, unknown and other
    tenants' messages are left out; too many ids or a bad id is INVALID_ARGUMENT."""
    scoring, _ = stubs
    ids = _store_messages(migrated_url, "acme", "L-6", [FREEZE, "hello", "价格能再便宜点吗"])
    scoring.RecordPredictions(_predictions("acme", [(ids[0], "budget_freeze"), (ids[2], "info_request")]))
    scoring.RecordPredictions(_predictions("acme", [(ids[2], "pricing_inquiry")]))  # the same version: kept
    newer = _predictions("acme", [(ids[2], "pricing_inquiry")])
    for p in newer.interactions[0].predictions:
        p.model_version = "v2"
    scoring.RecordPredictions(newer)
    reply = scoring.GetPredictions(
        scoring_pb2.GetPredictionsRequest(tenant_id="acme", interaction_ids=[ids[2], ids[1], "0" * 32, ids[0]])
    )
    got = {i.interaction_id: {p.task: (p.label, p.model_version) for p in i.predictions} for i in reply.interactions}
    assert [i.interaction_id for i in reply.interactions] == [ids[2], ids[0]]  # in the order asked
    assert got[ids[0]] == {"intent": ("budget_freeze", "v1"), "risk": ("high", "v1")}
    assert got[ids[2]] == {"intent": ("pricing_inquiry", "v2"), "risk": ("high", "v2")}
    spans = next(p for p in reply.interactions[1].predictions if p.task == "intent").evidence
    assert [(e.start, e.end, e.text) for e in spans] == [(0, 4, "预算冻结")]
    other = scoring.GetPredictions(scoring_pb2.GetPredictionsRequest(tenant_id="globex", interaction_ids=ids))
    assert list(other.interactions) == []
    for bad in (["x" * 201], [ids[0]] * 101):
        with pytest.raises(grpc.RpcError) as err:
            scoring.GetPredictions(scoring_pb2.GetPredictionsRequest(tenant_id="acme", interaction_ids=bad))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_won_outcome_feeds_the_similar_index(stubs, migrated_url: str, leads_service) -> None:
    scoring, suggestions = stubs
    scoring.UpsertLead(scoring_pb2.UpsertLeadRequest(tenant_id="acme", lead_id="W-1", stage="negotiation"))
    won_ids = _store_messages(migrated_url, "acme", "W-1", [FREEZE, "预算解冻后我们签了合同"])
    won = scoring.RecordOutcome(scoring_pb2.RecordOutcomeRequest(tenant_id="acme", lead_id="W-1", outcome="won"))
    assert won.created and won.cases_indexed == 2 and [o.outcome for o in won.lead.outcomes] == ["won"]
    repeat = scoring.RecordOutcome(scoring_pb2.RecordOutcomeRequest(tenant_id="acme", lead_id="W-1", outcome="won"))
    assert not repeat.created and repeat.cases_indexed == 0
    with pytest.raises(grpc.RpcError) as both:
        scoring.RecordOutcome(scoring_pb2.RecordOutcomeRequest(tenant_id="acme", lead_id="W-1", outcome="lost"))
    assert both.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as bad:
        scoring.RecordOutcome(scoring_pb2.RecordOutcomeRequest(tenant_id="acme", lead_id="W-1", outcome="maybe"))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    # a new lead in the same situation now gets the won lead's message as evidence
    ids = _store_messages(migrated_url, "acme", "N-1", ["预算冻结了，采购暂停"])
    scoring.RecordPredictions(_predictions("acme", [(ids[0], "budget_freeze")]))
    reply = suggestions.Suggest(suggestions_pb2.SuggestRequest(tenant_id="acme", lead_id="N-1", limit=10))
    detail = next(d for s, d in zip(reply.suggestions, reply.details, strict=True) if s.action == "pause_quote_pushes")
    similar = json.loads(detail.evidence_json)["similar"]
    assert similar and {c["case_id"] for c in similar} <= set(won_ids) and similar[0]["outcome"] == "won"
    # another tenant never sees them
    globex = _store_messages(migrated_url, "globex", "G-1", ["预算冻结了，采购暂停"])
    scoring.RecordPredictions(_predictions("globex", [(globex[0], "budget_freeze")]))
    other = suggestions.Suggest(suggestions_pb2.SuggestRequest(tenant_id="globex", lead_id="G-1", limit=10))
    assert all(json.loads(d.evidence_json)["similar"] == [] for d in other.details)
