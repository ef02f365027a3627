"""The leads service's library: lead records, live scoring, suggestions on stored history, outcomes feeding the
similar-situation index, rep feedback, the stale-lead scan and the erasure of a customer (``erasure.py``: what
goes and what stays). ``servicer.py`` only converts protobuf.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select

from services.common.errors import InvalidArgument, NotFound
from services.common.storage.models import AuditEvent, Interaction
from services.leads.erasure import Erased, customer_interaction_ids, erase_customer_rows
from services.leads.scorer import LeadScore, LiveScorer
from services.leads.store import (
    CLOSED,
    LeadHistory,
    LeadRecord,
    LeadStore,
    LeadUpsert,
    StoredPrediction,
    check_id,
)
from services.suggestions.domain import InteractionView, LeadContext, ScoreFactor, Suggestion
from services.suggestions.similar import PastCase, SimilarSituations
from services.suggestions.triggers import LeadHistory as ScanItem
from services.suggestions.triggers import SuggestionPipeline

log = logging.getLogger(__name__)

ScoreSource = Literal["model", "request", "none"]
DEFAULT_TOP = 5
DEFAULT_LIMIT = 3
MAX_PREDICTION_LOOKUP = 100


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

    def stored_predictions(self, tenant_id: str, interaction_ids: Sequence[str]) -> dict[str, list[StoredPrediction]]:
        if len(interaction_ids) > MAX_PREDICTION_LOOKUP:
            raise InvalidArgument(
                f"at most {MAX_PREDICTION_LOOKUP} interaction ids per call, got {len(interaction_ids)}",
                field="interaction_ids",
            )
        for interaction_id in interaction_ids:
            check_id(interaction_id, "interaction_ids")
        return self.store.stored_predictions(check_id(tenant_id, "tenant_id"), interaction_ids)

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
        """Record the outcome; a newly won or lost lead's messages join the similar-situation index.

        The messages are indexed *before* the outcome is saved: if the vector store refuses, nothing is saved
        and the caller's retry does both (upserts are idempotent per message), whereas saving first would leave
        a recorded outcome whose messages a retry (``created`` false) never indexes.
        """
        check_id(lead_id, "lead_id")
        indexed = 0
        known = self.store.find(tenant_id, lead_id)
        recorded = {o.outcome for o in known.outcomes} if known is not None else set()
        new_close = outcome in CLOSED and outcome not in recorded and not (recorded & CLOSED)
        if new_close and self.similar is not None:
            cases = [
                PastCase(case_id=i, text=t, outcome=outcome, lead_id=lead_id, customer_id=c)  # type: ignore[arg-type]
                for i, c, t in self.store.messages(tenant_id, lead_id)
            ]
            indexed = self.similar.add(tenant_id, cases)
        lead, created = self.store.record_outcome(
            tenant_id, lead_id, outcome, occurred_at=occurred_at, note=note, actor=actor
        )
        return lead, created, indexed if created else 0

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
        embeddings: Mapping[str, tuple[str, Sequence[float]]] | None = None,
    ) -> SuggestResult:
        """Run every rule on the lead's stored history with a fresh score; store (and deliver) the suggestions.

        ``embeddings``: interaction id → (encoder identity, vector) the caller computed with the classification;
        the similar-case search uses those this index accepts instead of embedding the messages again.
        """
        if not 0 <= limit <= 20:
            raise InvalidArgument("limit must lie between 0 and 20", field="limit")
        if fallback_score is not None and not 0.0 <= fallback_score <= 1.0:
            raise InvalidArgument("fallback_score must lie between 0 and 1", field="fallback_score")
        history = self._history(tenant_id, lead_id)
        context, score, source = self._context(
            tenant_id, lead_id, history, _language(language), fallback_score, fallback_factors, last_touch_at
        )
        fired = self.pipeline.on_interaction(context, self._with_embeddings(history.interactions, embeddings or {}))
        return SuggestResult(fired.suggestions[: limit or DEFAULT_LIMIT], score, source)

    def _with_embeddings(
        self, views: Sequence[InteractionView], embeddings: Mapping[str, tuple[str, Sequence[float]]]
    ) -> list[InteractionView]:
        similar = self.similar
        if similar is None or not embeddings:
            return list(views)
        usable = {i: tuple(vector) for i, (model, vector) in embeddings.items() if similar.accepts(model)}
        return [view.model_copy(update={"embedding": usable[view.id]}) if view.id in usable else view for view in views]

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

    # -- erasure ----------------------------------------------------------------------------------------------

    def erase_customer(self, tenant_id: str, customer_id: str, actor: str = "") -> Erased:
        """Forget the customer's similar-index vectors and erase the leads-side rows derived from them (audited).

        Call it before the ingestion service erases the interactions: their ids find the vectors. A failure of the
        vector store rolls the database part back, so a retry starts over."""
        check_id(tenant_id, "tenant_id")
        check_id(customer_id, "customer_id")
        with self.store.db.session() as s:
            ids = customer_interaction_ids(s, tenant_id, customer_id)
            erased = erase_customer_rows(s, tenant_id, customer_id)
            if self.similar is not None:
                erased.vectors = self.similar.forget(tenant_id, case_ids=ids, customer_id=customer_id)
            s.add(
                AuditEvent(
                    tenant_id=tenant_id,
                    actor=actor[:200] or "leads",
                    action="erase_customer_derived",
                    target_type="customer",
                    target_id=customer_id,
                    reason=", ".join(f"{k}={v}" for k, v in erased.as_dict().items()),
                )
            )
        return erased

    def forget_erased(self, *, batch: int = 500) -> int:
        """Delete vectors whose message is no longer stored (erased while this service was unreachable); run at
        start-up. Every point of the index is an interaction of this database (``record_outcome`` adds them)."""
        if self.similar is None:
            return 0
        stored: dict[str, set[str]] = {}
        for tenant_id, case_id in self.similar.cases():
            stored.setdefault(tenant_id, set()).add(case_id)
        forgotten = 0
        for tenant_id, case_ids in stored.items():
            gone = case_ids - self._existing(tenant_id, sorted(case_ids), batch)
            if gone:
                forgotten += self.similar.forget(tenant_id, case_ids=sorted(gone))
        return forgotten

    def _existing(self, tenant_id: str, case_ids: list[str], batch: int) -> set[str]:
        found: set[str] = set()
        with self.store.db.session() as s:
            for start in range(0, len(case_ids), batch):
                chunk = case_ids[start : start + batch]
                query = select(Interaction.id).where(Interaction.tenant_id == tenant_id, Interaction.id.in_(chunk))
                found.update(s.scalars(query))
        return found

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
