"""Playbook conditions: small pydantic models, each able to check itself against a lead's history.

A condition that holds returns a :class:`Match`: its *support* in [0, 1] (how sure we are that it holds — the
mean confidence of the predictions it relied on, 1.0 for plain facts such as elapsed time), the evidence it
relied on and a one-line reason in English and Chinese. Adding a condition = one model here with ``check`` and
one optional field on :class:`When`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from services.suggestions.domain import InteractionView, LeadContext, PredictionEvidence, ScoreFactor
from services.suggestions.labels import label_zh, valid_labels

RISK_ORDER = ("low", "medium", "high")


@dataclass(frozen=True)
class History:
    """A lead's recent interactions (sorted oldest first on construction), its context and the evaluation time."""

    interactions: tuple[InteractionView, ...]
    lead: LeadContext
    now: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "interactions", tuple(sorted(self.interactions, key=lambda i: (i.occurred_at, i.id))))

    @property
    def latest(self) -> InteractionView | None:
        return self.interactions[-1] if self.interactions else None

    @cached_property
    def hours_since_last_touch(self) -> float | None:
        last = self.lead.last_touch_at or (self.latest.occurred_at if self.latest else None)
        return None if last is None else max(0.0, (self.now - last).total_seconds() / 3600)

    def window(self, last: int | None, within_hours: float | None) -> tuple[InteractionView, ...]:
        items = self.interactions[-last:] if last else self.interactions
        if within_hours is not None:
            items = tuple(i for i in items if (self.now - i.occurred_at).total_seconds() <= within_hours * 3600)
        return items


@dataclass(frozen=True)
class Match:
    support: float
    reason_en: str
    reason_zh: str
    predictions: tuple[PredictionEvidence, ...] = ()
    facts: dict[str, float] = field(default_factory=dict)
    factors: tuple[ScoreFactor, ...] = ()


def _evidence(item: InteractionView, task: str) -> PredictionEvidence:
    pred = item.prediction(task)
    assert pred is not None
    return PredictionEvidence(
        interaction_id=item.id, task=task, label=pred.label, confidence=pred.confidence, spans=pred.evidence
    )


def _names(labels: Sequence[str]) -> tuple[str, str]:
    return " / ".join(labels), "/".join(label_zh(label) for label in labels)


class _Condition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: True when the condition can start holding with no new message (a periodic scan re-checks those rules).
    time_based: ClassVar[bool] = False

    def check(self, history: History) -> Match | None:  # pragma: no cover - abstract
        raise NotImplementedError


class _IntentLabels(_Condition):
    labels: tuple[str, ...] = Field(min_length=1)
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"labels": [data]}
        if isinstance(data, list):
            return {"labels": data}
        return data

    @field_validator("labels")
    @classmethod
    def _known(cls, labels: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        valid = valid_labels("intent", info.context)
        unknown = [label for label in labels if label not in valid]
        if unknown:
            raise ValueError(f"unknown intent label {unknown[0]!r} (valid: {', '.join(valid)})")
        return labels

    def _hits(self, items: Sequence[InteractionView]) -> list[InteractionView]:
        return [
            i
            for i in items
            if (p := i.prediction("intent")) and p.label in self.labels and p.confidence >= self.min_confidence
        ]


class LastIntent(_IntentLabels):
    """The latest message's intent is one of ``labels``. YAML: ``last_intent: budget_freeze``."""

    def check(self, history: History) -> Match | None:
        latest = history.latest
        if latest is None or not self._hits([latest]):
            return None
        ev = _evidence(latest, "intent")
        en, zh = _names([ev.label])
        return Match(ev.confidence, f"the latest message is {en}", f"最新消息为{zh}", (ev,))


class IntentCount(_IntentLabels):
    """At least ``at_least`` of the last ``last`` messages (and/or those of the last ``within_hours``) match."""

    at_least: int = Field(default=1, ge=1)
    last: int | None = Field(default=None, ge=1)
    within_hours: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _fits(self) -> IntentCount:
        if self.last is not None and self.at_least > self.last:
            raise ValueError(f"at_least ({self.at_least}) cannot exceed last ({self.last})")
        return self

    def check(self, history: History) -> Match | None:
        window = history.window(self.last, self.within_hours)
        hits = self._hits(window)
        if len(hits) < self.at_least:
            return None
        evidence = tuple(_evidence(i, "intent") for i in hits)
        support = sum(e.confidence for e in evidence) / len(evidence)
        en, zh = _names(self.labels)
        return Match(
            support,
            f"{len(hits)} of the last {len(window)} messages were {en}",
            f"最近{len(window)}条消息中有{len(hits)}条为{zh}",
            evidence,
            {"intent_count": float(len(hits))},
        )


class Risk(_Condition):
    """One of the last ``last`` messages signals risk ``at_least`` (low < medium < high). YAML: ``risk: high``."""

    at_least: str
    last: int = Field(default=1, ge=1)
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"at_least": data} if isinstance(data, str) else data

    @field_validator("at_least")
    @classmethod
    def _known(cls, level: str) -> str:
        if level not in RISK_ORDER:
            raise ValueError(f"unknown risk level {level!r} (valid: {', '.join(RISK_ORDER)})")
        return level

    def check(self, history: History) -> Match | None:
        floor = RISK_ORDER.index(self.at_least)
        for item in reversed(history.window(self.last, None)):
            pred = item.prediction("risk")
            if not pred or pred.label not in RISK_ORDER or pred.confidence < self.min_confidence:
                continue
            if RISK_ORDER.index(pred.label) >= floor:
                ev = _evidence(item, "risk")
                return Match(ev.confidence, f"risk is {ev.label}", f"风险为{label_zh(ev.label)}", (ev,))
        return None


class NoTouch(_Condition):
    """No contact for at least ``hours`` (the last touch, else the latest message). YAML: ``no_touch: {hours: 48}``."""

    hours: float = Field(gt=0)
    time_based: ClassVar[bool] = True

    def check(self, history: History) -> Match | None:
        elapsed = history.hours_since_last_touch
        if elapsed is None or elapsed < self.hours:
            return None
        shown = int(elapsed)
        return Match(1.0, f"no touch for {shown} h", f"已{shown}小时未跟进", facts={"hours_since_last_touch": elapsed})


class LeadScore(_Condition):
    """The lead score is at least ``at_least`` (below ``below`` if given). YAML: ``lead_score: {at_least: 0.7}``."""

    at_least: float = Field(default=0.0, ge=0.0, le=1.0)
    below: float | None = Field(default=None, gt=0.0, le=1.0)
    top_factors: int = Field(default=3, ge=0)

    def check(self, history: History) -> Match | None:
        score = history.lead.score
        if score is None or score < self.at_least or (self.below is not None and score >= self.below):
            return None
        direction = 1 if self.below is None else -1  # a high score is explained by its positive factors
        factors = sorted(history.lead.factors, key=lambda f: -direction * f.contribution)
        factors = [f for f in factors if f.contribution * direction > 0][: self.top_factors]
        return Match(
            1.0, f"lead score {score:.2f}", f"线索评分{score:.2f}", facts={"lead_score": score}, factors=tuple(factors)
        )


class When(BaseModel):
    """All given conditions must hold (AND). At least one is required."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    last_intent: LastIntent | None = None
    intent_count: IntentCount | None = None
    risk: Risk | None = None
    no_touch: NoTouch | None = None
    lead_score: LeadScore | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> When:
        if not self.conditions():
            raise ValueError(f"a rule needs at least one condition ({', '.join(type(self).model_fields)})")
        return self

    def conditions(self) -> list[_Condition]:
        return [c for name in type(self).model_fields if (c := getattr(self, name)) is not None]

    @property
    def time_based(self) -> bool:
        return any(c.time_based for c in self.conditions())
