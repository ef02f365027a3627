"""What the engine reads (a lead's recent interactions with their predictions) and what it writes (suggestions).

Every text here is *redacted* text: the engine never sees a raw value, so nothing it produces can leak one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

AI_DRAFT_MARKERS: dict[str, str] = {
    "en": "[AI draft — edit before sending]",
    "zh": "【AI草稿，发送前请修改】",
}

Decision = Literal["accepted", "edited", "rejected"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Span(_Frozen):
    """Characters of the redacted text that drove a prediction (``[start, end)``)."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str = ""
    weight: float = 0.0


class Prediction(_Frozen):
    task: str
    label: str
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: tuple[Span, ...] = ()


class InteractionView(_Frozen):
    """One redacted message of the lead, with the classifier's predictions."""

    id: str
    occurred_at: datetime
    text: str = ""
    language: str = "en"
    predictions: tuple[Prediction, ...] = ()
    # the text's sentence embedding when the caller computed it with the classification (never serialised)
    embedding: tuple[float, ...] = Field(default=(), exclude=True, repr=False)

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("occurred_at must carry a time zone")
        return value

    def prediction(self, task: str) -> Prediction | None:
        return next((p for p in self.predictions if p.task == task), None)


class ScoreFactor(_Frozen):
    """One factor of the lead score (``services.scoring.explain.Factor.as_dict()``)."""

    feature: str
    value: Any = None
    contribution: float
    text_en: str = ""
    text_zh: str = ""


class LeadContext(_Frozen):
    """What is known about the lead besides its messages."""

    tenant_id: str
    lead_id: str
    score: float | None = Field(default=None, ge=0.0, le=1.0)
    factors: tuple[ScoreFactor, ...] = ()
    language: str | None = None  # the customer's language; default: that of the latest message
    last_touch_at: datetime | None = None  # last contact by the rep; default: the latest message


class PredictionEvidence(_Frozen):
    interaction_id: str
    task: str
    label: str
    confidence: float
    spans: tuple[Span, ...] = ()


class SimilarCase(_Frozen):
    """A past redacted message of the same tenant, close to this situation, and how that deal ended."""

    case_id: str
    text: str
    outcome: str
    score: float
    lead_id: str = ""
    note: str = ""


class Evidence(_Frozen):
    interaction_ids: tuple[str, ...] = ()
    predictions: tuple[PredictionEvidence, ...] = ()
    factors: tuple[ScoreFactor, ...] = ()
    facts: dict[str, float] = Field(default_factory=dict)
    similar: tuple[SimilarCase, ...] = ()
    reason_en: str = ""
    reason_zh: str = ""


class Draft(_Frozen):
    """Editable text for the rep, in the customer's language; always starts with the AI-draft marker."""

    language: str
    text: str
    ai_generated: bool = True


class Suggestion(_Frozen):
    id: str
    tenant_id: str
    lead_id: str
    rule: str
    action: str
    audience: Literal["customer", "internal"]
    title: str
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: Evidence
    draft: Draft
    auto_send: Literal[False] = False
