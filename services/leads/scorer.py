"""Live lead scoring: the lead's signals as of now (the same feature code as ``salesai scoring signals``), its
CRM fields, and the current version of a scoring model from the file registry, with exact factor contributions.

The registry's ``current`` pointer is re-read on every call (one small file), so ``salesai scoring train`` or
``revert`` takes effect without a restart; a loaded version is cached by name.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.common.errors import FailedPrecondition
from services.leads.store import LeadHistory
from services.scoring.explain import Factor
from services.scoring.model import ScoringModel
from services.scoring.registry import ScoringRegistry
from services.scoring.signals import RISK_LEVEL, Touch, lead_features
from services.suggestions.domain import InteractionView

NO_MODEL = "no scoring model trained yet: train one with `salesai scoring train --data FILE --target COLUMN`"


@dataclass(frozen=True)
class LeadScore:
    lead_id: str
    probability: float
    factors: list[Factor]
    base_value: float
    model_version: str
    model_kind: str
    fallback: bool
    threshold: float

    @property
    def display(self) -> int:
        return round(self.probability * 100)

    @property
    def confidence(self) -> float:
        """How sure the model is of its call (win or loss), in [0.5, 1]."""
        return max(self.probability, 1.0 - self.probability)


def touches(history: LeadHistory) -> list[Touch]:
    """The lead's stored messages as touches (the customer's inbound, the rep's outbound), plus the CRM's last
    touch as an outbound one when it is later than every stored rep message (a call or meeting with no message;
    an earlier or equal one is taken to be among the stored messages, so it is not counted twice)."""
    lead_id = history.lead.lead_id if history.lead else ""
    out = [_touch(lead_id, view, inbound=True) for view in history.interactions]
    out += [_touch(lead_id, view, inbound=False) for view in history.outbound]
    crm_touch = history.lead.last_touch_at if history.lead is not None else None
    if crm_touch is not None and all(view.occurred_at < crm_touch for view in history.outbound):
        out.append(Touch(lead_id, crm_touch, False, None, None))
    return out


def _touch(lead_id: str, view: InteractionView, *, inbound: bool) -> Touch:
    intent, risk = view.prediction("intent"), view.prediction("risk")
    return Touch(
        lead_id,
        view.occurred_at,
        inbound,
        intent.label if intent else None,
        risk.label if risk is not None and risk.label in RISK_LEVEL else None,
    )


def feature_row(history: LeadHistory, as_of: datetime, window_days: float) -> dict[str, Any]:
    """One row of the scoring table: CRM custom fields, stage, and the signals as of ``as_of``."""
    lead = history.lead
    row: dict[str, Any] = dict(lead.fields) if lead else {}
    if lead is not None:
        row.setdefault("stage", lead.stage or None)
    stage_since = lead.stage_entered_at if lead is not None and lead.stage else None
    row.update(lead_features(touches(history), as_of, window_days, stage_entered_at=stage_since))
    return row


class LiveScorer:
    def __init__(self, registry: ScoringRegistry, name: str = "default", *, window_days: float = 30.0) -> None:
        self.registry = registry
        self.name = name
        self.window_days = window_days
        self._cache: dict[str, tuple[ScoringModel, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def available(self) -> bool:
        return self.registry.current(self.name) is not None

    def model(self) -> tuple[str, ScoringModel, dict[str, Any]]:
        version = self.registry.current(self.name)
        if version is None:
            raise FailedPrecondition(NO_MODEL, reason="no_scoring_model")
        with self._lock:
            if version not in self._cache:
                self._cache = {version: self.registry.load(self.name, version)}
            model, metadata = self._cache[version]
        return version, model, metadata

    def score(self, history: LeadHistory, *, top: int = 5, as_of: datetime | None = None) -> LeadScore:
        """Score the lead now; ``top`` positive and ``top`` negative factors, strongest first."""
        version, model, _ = self.model()
        row = feature_row(history, as_of or datetime.now(UTC), self.window_days)
        scored = model.score_row(row, per_side=top)  # no pandas: a one-row frame cost more than the model
        return LeadScore(
            lead_id=history.lead.lead_id if history.lead else "",
            probability=scored.probability,
            factors=scored.factors,
            base_value=scored.base_value,
            model_version=version,
            model_kind=model.kind,
            fallback=model.kind != "lightgbm",
            threshold=float(model.threshold),
        )
