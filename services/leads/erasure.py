"""Erasure of a customer in the leads service's tables (GDPR art. 17 / PIPL art. 47).

What goes, for the customer's interactions (``interactions.customer_id``) and leads (``leads.customer_id``):

- stored predictions of the customer's interactions (their evidence quotes the redacted text);
- suggestions of the customer's leads, and any suggestion whose evidence cites one of the customer's
  interactions, with their feedback (a rep's edited text) and delivery records;
- the customer's messages quoted as *similar past cases* in other leads' suggestions: those entries are cut out
  of the evidence, the suggestion itself stays (it is about another customer);
- the ``customers`` row (the CRM's custom fields of the person).

What stays, and why: a lead is the CRM's deal object, keyed by the CRM's lead id. It is kept *anonymised* so the
tenant's won/lost statistics and scoring training data survive: its ``customer_id`` is cleared, text-valued custom
fields are dropped (only numbers and booleans remain: they hold no words of the customer), and the free-text notes
of its outcomes are blanked. Its stage history holds stage names only and stays. The similar-situation vectors
are not in the database: :meth:`services.leads.core.LeadsCore.erase_customer` removes them.

:func:`erase_customer_records` fits ``services.ingestion.core.Eraser``, so erasing through the ingestion service
alone still removes these rows; it must run before the interactions themselves are deleted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.common.storage.models import (
    Customer,
    Interaction,
    InteractionPrediction,
    Lead,
    LeadOutcome,
    Suggestion,
    SuggestionDelivery,
    SuggestionFeedback,
)


@dataclass
class Erased:
    """What one erasure removed (or anonymised), by kind."""

    vectors: int = 0
    predictions: int = 0
    suggestions: int = 0
    suggestion_feedback: int = 0
    suggestion_deliveries: int = 0
    suggestions_amended: int = 0  # other leads' suggestions that quoted the customer's messages as similar cases
    leads_anonymised: int = 0
    customers: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @property
    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))


def customer_interaction_ids(s: Session, tenant_id: str, customer_id: str) -> list[str]:
    query = select(Interaction.id).where(Interaction.tenant_id == tenant_id, Interaction.customer_id == customer_id)
    return list(s.scalars(query))


def erase_customer_rows(s: Session, tenant_id: str, customer_id: str) -> Erased:
    """Remove or anonymise every leads-side row derived from the customer (see the module docstring)."""
    erased = Erased()
    if not customer_id:
        return erased  # messages without a customer belong to nobody in particular: never erase them all
    ids = set(customer_interaction_ids(s, tenant_id, customer_id))
    if ids:
        erased.predictions = _delete(s, InteractionPrediction, InteractionPrediction.interaction_id.in_(ids))
    leads = list(s.scalars(select(Lead).where(Lead.tenant_id == tenant_id, Lead.customer_id == customer_id)))
    _suggestions(s, tenant_id, {lead.external_id for lead in leads}, ids, erased)
    for lead in leads:
        _anonymise(s, lead)
    erased.leads_anonymised = len(leads)
    erased.customers = _delete(s, Customer, Customer.tenant_id == tenant_id, Customer.external_id == customer_id)
    return erased


def erase_customer_records(s: Session, tenant_id: str, customer_id: str) -> int:
    """An ingestion ``Eraser``: :func:`erase_customer_rows`, counted as one number."""
    return erase_customer_rows(s, tenant_id, customer_id).total


def _suggestions(s: Session, tenant_id: str, lead_ids: set[str], ids: set[str], erased: Erased) -> None:
    doomed = []
    for row in s.scalars(select(Suggestion).where(Suggestion.tenant_id == tenant_id)):
        evidence: dict[str, Any] = row.evidence or {}
        if row.lead_id in lead_ids or ids & set(evidence.get("interaction_ids", ())):
            doomed.append(row.id)
            continue
        similar = evidence.get("similar", [])
        kept = [case for case in similar if case.get("case_id") not in ids]
        if len(kept) != len(similar):
            row.evidence = {**evidence, "similar": kept}  # a new dict: SQLAlchemy sees the change
            erased.suggestions_amended += 1
    if doomed:
        erased.suggestion_feedback = _delete(s, SuggestionFeedback, SuggestionFeedback.suggestion_id.in_(doomed))
        erased.suggestion_deliveries = _delete(s, SuggestionDelivery, SuggestionDelivery.suggestion_id.in_(doomed))
        erased.suggestions = _delete(s, Suggestion, Suggestion.id.in_(doomed))


def _anonymise(s: Session, lead: Lead) -> None:
    lead.customer_id = ""
    lead.fields = {k: v for k, v in (lead.fields or {}).items() if isinstance(v, int | float | bool)}
    for outcome in s.scalars(select(LeadOutcome).where(LeadOutcome.lead_id == lead.id)):
        outcome.note = ""


def _delete(s: Session, model: Any, *where: Any) -> int:
    return int(s.execute(delete(model).where(*where)).rowcount or 0)  # type: ignore[attr-defined]
