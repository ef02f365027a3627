"""The leads service's library: lead records, live scoring, suggestions on stored history, outcomes feeding the
similar-situation index, rep feedback, and the stale-lead scan. ``servicer.py`` only converts protobuf.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.common.errors import InvalidArgument, NotFound
from services.leads.scorer import LeadScore, LiveScorer
from services.leads.store import LeadHistory, LeadRecord, LeadStore, LeadUpsert, StoredPrediction, check_id
from services.suggestions.domain import LeadContext, ScoreFactor, Suggestion
from services.suggestions.similar import PastCase, SimilarSituations
from services.suggestions.triggers import LeadHistory as ScanItem
from services.suggestions.triggers import SuggestionPipeline

log = logging.getLogger(__name__)

ScoreSource = Literal["model", "request", "none"]
DEFAULT_TOP = 5
DEFAULT_LIMIT = 3


@dataclass(frozen=True)
class SuggestResult:
    suggestions: list[Suggestion]
    score: LeadScore | None
    score_source: ScoreSource


def _language(requested: str) -> str:
    if requested not in ("", "zh", "en"):
        raise InvalidArgument("language must be zh or en", field="language")
    return requested


class LeadsCore:
    def __init__(
        self,
        store: LeadStore,
        scorer: LiveScorer,
        pipeline: SuggestionPipeline,
        *,
        similar: SimilarSituations | None = None,
        history_limit: int = 50,
    ) -> None:
        self.store = store
        self.scorer = scorer
        self.pipeline = pipeline
        self.similar = similar
        self.history_limit = history_limit

    # -- lead records -----------------------------------------------------------------------------------------

    def upsert(self, command: LeadUpsert) -> tuple[LeadRecord, bool, bool]:
        return self.store.upsert(command)

    def get(self, tenant_id: str, lead_id: str) -> LeadRecord:
        return self.store.get(tenant_id, check_id(lead_id, "lead_id"))

    def record_predictions(self, tenant_id: str, items: Sequence[tuple[str, Sequence[StoredPrediction]]]) -> int:
        return self.store.record_predictions(check_id(tenant_id, "tenant_id"), items)

    def record_outcome(
        self,
        tenant_id: str,
        lead_id: str,
        outcome: str,
        *,
        occurred_at: datetime | None = None,
        note: str = "",
        actor: str = "",
    ) -> tuple[LeadRecord, bool, int]:
        """Record the outcome; a newly won or lost lead's messages join the similar-situation index."""
        check_id(lead_id, "lead_id")
        lead, created = self.store.record_outcome(
            tenant_id, lead_id, outcome, occurred_at=occurred_at, note=note, actor=actor
        )
        indexed = 0
        if created and outcome in ("won", "lost") and self.similar is not None:
            cases = [
                PastCase(case_id=i, text=t, outcome=outcome, lead_id=lead_id)  # type: ignore[arg-type]
                for i, t in self.store.messages(tenant_id, lead_id)
            ]
            indexed = self.similar.add(tenant_id, cases)
        return lead, created, indexed

    # -- scoring and suggestions ------------------------------------------------------------------------------

    def _history(self, tenant_id: str, lead_id: str) -> LeadHistory:
        check_id(lead_id, "lead_id")
        history = self.store.history(tenant_id, lead_id, limit=self.history_limit)
        if history.lead is None and not history.interactions and not history.outbound:
            raise NotFound(f"lead {lead_id!r} not found")
        return history

    def score(self, tenant_id: str, lead_id: str, *, top: int = 0) -> LeadScore:
        """Score as of now; FailedPrecondition when no scoring model has been trained."""
        if not 0 <= top <= 100:
            raise InvalidArgument("top_factors must lie between 0 and 100", field="top_factors")
        history = self._history(tenant_id, lead_id)
        return self.scorer.score(history, top=top or DEFAULT_TOP)

    def factor_language(self, tenant_id: str, lead_id: str, requested: str) -> str:
        """The language of factor sentences: the requested one, else the lead's, else English."""
        if _language(requested):
            return requested
        lead = self.store.find(tenant_id, lead_id)
        return lead.language if lead is not None and lead.language else "en"

    def suggest(
        self,
        tenant_id: str,
        lead_id: str,
        *,
        language: str = "",
        limit: int = 0,
        fallback_score: float | None = None,
        fallback_factors: Sequence[ScoreFactor] = (),
        last_touch_at: datetime | None = None,
    ) -> SuggestResult:
        """Run every rule on the lead's stored history with a fresh score; store (and deliver) the suggestions."""
        if not 0 <= limit <= 20:
            raise InvalidArgument("limit must lie between 0 and 20", field="limit")
        if fallback_score is not None and not 0.0 <= fallback_score <= 1.0:
            raise InvalidArgument("fallback_score must lie between 0 and 1", field="fallback_score")
        history = self._history(tenant_id, lead_id)
        context, score, source = self._context(
            tenant_id, lead_id, history, _language(language), fallback_score, fallback_factors, last_touch_at
        )
        fired = self.pipeline.on_interaction(context, history.interactions)
        return SuggestResult(fired.suggestions[: limit or DEFAULT_LIMIT], score, source)

    def _context(
        self,
        tenant_id: str,
        lead_id: str,
        history: LeadHistory,
        language: str,
        fallback_score: float | None,
        fallback_factors: Sequence[ScoreFactor],
        last_touch_at: datetime | None,
    ) -> tuple[LeadContext, LeadScore | None, ScoreSource]:
        # no model trained yet: the caller's score, if any, else none (score rules then do not apply)
        score = self.scorer.score(history) if self.scorer.available() else None
        lead = history.lead
        if score is not None:
            probability, factors, source = (
                score.probability,
                tuple(ScoreFactor(**f.as_dict()) for f in score.factors),
                "model",
            )
        elif fallback_score is not None:
            probability, factors, source = fallback_score, tuple(fallback_factors), "request"
        else:
            probability, factors, source = None, (), "none"
        context = LeadContext(
            tenant_id=tenant_id,
            lead_id=lead_id,
            score=probability,
            factors=factors,
            language=language or (lead.language if lead and lead.language else None),
            last_touch_at=last_touch_at or history.last_touch_at,
        )
        return context, score, source  # type: ignore[return-value]

    def feedback(
        self,
        tenant_id: str,
        suggestion_id: str,
        decision: str,
        *,
        edited_text: str = "",
        actor: str = "",
        channel: str = "",
    ) -> str:
        check_id(suggestion_id, "suggestion_id")
        return self.pipeline.store.record_feedback(
            tenant_id, suggestion_id, decision, edited_text=edited_text, actor=actor[:200], channel=channel[:64]
        )

    # -- the periodic scan ------------------------------------------------------------------------------------

    def scan_items(self, *, limit: int = 1000) -> Iterator[ScanItem]:
        """Open leads with their history and fresh score, for :func:`services.suggestions.triggers.scan_forever`."""
        for tenant_id, lead_id in self.store.open_leads(limit=limit):
            try:
                history = self.store.history(tenant_id, lead_id, limit=self.history_limit)
                context, _, _ = self._context(tenant_id, lead_id, history, "", None, (), None)
            except Exception as err:  # noqa: BLE001 - one lead that cannot be scored must not stop the scan
                log.warning("scan skipped a lead that could not be scored: %s", type(err).__name__)
                continue
            yield context, history.interactions
