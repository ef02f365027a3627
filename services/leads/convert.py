"""protobuf ⇄ domain conversion for the leads service, shared by its servicers and the gateway's clients."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format
from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp
from salesai.common.v1 import types_pb2
from salesai.scoring.v1 import scoring_pb2
from salesai.suggestions.v1 import suggestions_pb2

from services.leads.scorer import LeadScore
from services.leads.store import LeadRecord
from services.suggestions.domain import Draft, Evidence, ScoreFactor, Suggestion

SOURCES = {
    "model": suggestions_pb2.SCORE_SOURCE_MODEL,
    "request": suggestions_pb2.SCORE_SOURCE_REQUEST,
    "none": suggestions_pb2.SCORE_SOURCE_NONE,
}
SOURCE_NAMES = {v: k for k, v in SOURCES.items()}


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return ts


def when(message: Any, name: str) -> datetime | None:
    """A Timestamp field as an aware datetime, None when unset."""
    return getattr(message, name).ToDatetime(UTC) if message.HasField(name) else None


def struct(values: dict[str, Any]) -> Struct:
    out = Struct()
    out.update(values)
    return out


def fields_from(value: Struct) -> dict[str, Any]:
    """Struct numbers are doubles: whole ones come back as ints."""
    data = json_format.MessageToDict(value)
    return {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in data.items()}


def lead_to_pb(lead: LeadRecord) -> scoring_pb2.Lead:
    return scoring_pb2.Lead(
        lead_id=lead.lead_id,
        customer_id=lead.customer_id,
        stage=lead.stage,
        owner=lead.owner,
        language=lead.language,
        fields=struct(lead.fields),
        stage_entered_at=timestamp(lead.stage_entered_at),
        last_touch_at=timestamp(lead.last_touch_at),
        created_at=timestamp(lead.created_at),
        updated_at=timestamp(lead.updated_at),
        outcomes=[
            scoring_pb2.Outcome(outcome=o.outcome, occurred_at=timestamp(o.occurred_at), note=o.note)
            for o in lead.outcomes
        ],
    )


def score_to_pb(score: LeadScore, language: str) -> types_pb2.Score:
    return types_pb2.Score(
        lead_id=score.lead_id,
        probability=score.probability,
        score=score.display,
        factors=[
            types_pb2.Factor(
                name=f.feature,
                value=_number(f.value),
                contribution=f.contribution,
                description=f.text_zh if language == "zh" else f.text_en,
            )
            for f in score.factors
        ],
        model_version=score.model_version,
        confidence=score.confidence,
    )


def _number(value: Any) -> float:
    """The factor's value as a number (categorical and missing values: NaN; the sentence carries the text)."""
    if isinstance(value, bool):
        return float(value)
    return float(value) if isinstance(value, int | float) else float("nan")


def factor_from_pb(factor: types_pb2.Factor) -> ScoreFactor:
    return ScoreFactor(
        feature=factor.name,
        value=factor.value,
        contribution=factor.contribution,
        text_en=factor.description,
        text_zh=factor.description,
    )


def suggestion_to_pb(s: Suggestion) -> tuple[types_pb2.Suggestion, suggestions_pb2.SuggestionDetail]:
    lang = s.draft.language
    evidence = [
        types_pb2.SuggestionEvidence(
            description=s.evidence.reason_zh if lang == "zh" else s.evidence.reason_en,
            interaction_ids=list(s.evidence.interaction_ids),
        )
    ]
    common = types_pb2.Suggestion(
        id=s.id,
        action=s.action,
        confidence=s.confidence,
        evidence=evidence,
        draft=s.draft.text,
        rationale=s.evidence.reason_zh if lang == "zh" else s.evidence.reason_en,
        lead_id=s.lead_id,
    )
    detail = suggestions_pb2.SuggestionDetail(
        rule=s.rule,
        audience=s.audience,
        title=s.title,
        language=lang,
        evidence_json=s.evidence.model_dump_json(),
    )
    return common, detail


def suggestion_from_pb(
    tenant_id: str, common: types_pb2.Suggestion, detail: suggestions_pb2.SuggestionDetail
) -> Suggestion:
    return Suggestion(
        id=common.id,
        tenant_id=tenant_id,
        lead_id=common.lead_id,
        rule=detail.rule,
        action=common.action,
        audience=detail.audience,  # type: ignore[arg-type]
        title=detail.title,
        confidence=common.confidence,
        evidence=Evidence.model_validate(json.loads(detail.evidence_json or "{}")),
        draft=Draft(language=detail.language, text=common.draft),
    )
