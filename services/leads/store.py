"""Leads, customers, stage history, outcomes and stored predictions in the database (the leads service's tables).

Ids in and out are the CRM's external ids (``lead_id``, ``customer_id``), scoped by tenant: another tenant's lead
is simply not found. Every write validates first and commits in one transaction, so bad input leaves nothing
behind. Nothing here logs field values or message text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common.errors import InvalidArgument, NotFound
from services.common.storage import Database
from services.common.storage.models import (
    Customer,
    Interaction,
    InteractionPrediction,
    Lead,
    LeadOutcome,
    LeadStageChange,
    Tenant,
)
from services.suggestions.domain import InteractionView, Prediction, Span

OUTCOMES: tuple[str, ...] = ("won", "lost", "converted")
CLOSED = frozenset({"won", "lost"})
LANGUAGES = ("", "zh", "en")
OUTBOUND = "outbound"  # Interaction.direction of a rep's message; anything else is the customer's (inbound)
MAX_FIELDS = 100
MAX_FIELD_TEXT = 1000
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def check_id(value: str, name: str) -> str:
    if not value or len(value) > 200 or _CONTROL.search(value):
        raise InvalidArgument(f"{name} must be 1-200 printable characters", field=name)
    return value


def check_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Custom fields are flat scalars (text, number, boolean; null removes a field), so they can be model features."""
    if len(fields) > MAX_FIELDS:
        raise InvalidArgument(f"at most {MAX_FIELDS} custom fields", field="fields")
    for name, value in fields.items():
        if not _FIELD_NAME.match(name):
            raise InvalidArgument(
                f"custom field name {name[:64]!r}: start with a letter or '_', then letters, digits, '_', '.', '-'",
                field="fields",
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidArgument(f"custom field {name!r} must be a finite number", field="fields")
        if isinstance(value, str) and len(value) > MAX_FIELD_TEXT:
            raise InvalidArgument(f"custom field {name!r} is longer than {MAX_FIELD_TEXT} characters", field="fields")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise InvalidArgument(f"custom field {name!r} must be text, a number, a boolean or null", field="fields")
    return dict(fields)


@dataclass(frozen=True)
class OutcomeRecord:
    outcome: str
    occurred_at: datetime
    note: str = ""


@dataclass(frozen=True)
class LeadRecord:
    """A lead as stored, detached from the session."""

    tenant_id: str
    lead_id: str
    customer_id: str
    stage: str
    owner: str
    language: str
    fields: dict[str, Any]
    stage_entered_at: datetime
    last_touch_at: datetime | None
    created_at: datetime
    updated_at: datetime
    outcomes: tuple[OutcomeRecord, ...] = ()

    @property
    def closed(self) -> bool:
        return any(o.outcome in CLOSED for o in self.outcomes)


@dataclass(frozen=True)
class LeadUpsert:
    tenant_id: str
    lead_id: str
    customer_id: str = ""
    stage: str = ""
    owner: str = ""
    language: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    last_touch_at: datetime | None = None
    actor: str = ""

    def validate(self) -> None:
        check_id(self.tenant_id, "tenant_id")
        check_id(self.lead_id, "lead_id")
        if self.customer_id:
            check_id(self.customer_id, "customer_id")
        if len(self.stage) > 64 or _CONTROL.search(self.stage):
            raise InvalidArgument("stage must be at most 64 printable characters", field="stage")
        if len(self.owner) > 200:
            raise InvalidArgument("owner must be at most 200 characters", field="owner")
        if self.language not in LANGUAGES:
            raise InvalidArgument("language must be zh or en", field="language")
        check_fields(self.fields)


@dataclass(frozen=True)
class StoredPrediction:
    task: str
    label: str
    confidence: float
    model_version: str = ""
    evidence: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class LeadHistory:
    """A lead's record (None when only its messages are known) and its messages, oldest first: the customer's
    (``interactions``, with their latest predictions: what the playbook reads) and the rep's (``outbound``)."""

    lead: LeadRecord | None
    interactions: tuple[InteractionView, ...]
    outbound: tuple[InteractionView, ...] = ()

    @property
    def last_touch_at(self) -> datetime | None:
        """The rep's last contact: the latest stored outbound message or the CRM's last touch, whichever is later."""
        known = [v.occurred_at for v in self.outbound[-1:]]
        if self.lead is not None and self.lead.last_touch_at is not None:
            known.append(self.lead.last_touch_at)
        return max(known, default=None)


class LeadStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def upsert(self, command: LeadUpsert) -> tuple[LeadRecord, bool, bool]:
        """Create or update a lead; ``(lead, created, stage_changed)``. Retried once if created concurrently."""
        command.validate()
        self._ensure_tenant(command.tenant_id)
        try:
            return self._upsert(command)
        except IntegrityError:
            return self._upsert(command)

    def _upsert(self, c: LeadUpsert) -> tuple[LeadRecord, bool, bool]:
        now = datetime.now(UTC)
        with self.db.session() as s:
            row = self._find(s, c.tenant_id, c.lead_id)
            created = row is None
            if row is None:
                row = Lead(tenant_id=c.tenant_id, external_id=c.lead_id, stage="", fields={}, stage_entered_at=now)
                s.add(row)
            previous = row.stage or ""
            stage_changed = bool(c.stage) and c.stage != previous
            if stage_changed:
                row.stage, row.stage_entered_at = c.stage, now
            row.customer_id = c.customer_id or row.customer_id or ""
            row.owner = c.owner or row.owner or ""
            row.language = c.language or row.language or ""
            merged = {**(row.fields or {}), **c.fields}
            row.fields = {k: v for k, v in merged.items() if v is not None}
            if c.last_touch_at is not None:
                row.last_touch_at = c.last_touch_at
            s.flush()
            if stage_changed:
                s.add(
                    LeadStageChange(
                        tenant_id=c.tenant_id,
                        lead_id=row.id,
                        from_stage=previous,
                        to_stage=c.stage,
                        actor=c.actor[:200],
                        changed_at=now,
                    )
                )
            if row.customer_id:
                self._touch_customer(s, c.tenant_id, row.customer_id)
            return self._record(s, row), created, stage_changed

    def get(self, tenant_id: str, lead_id: str) -> LeadRecord:
        with self.db.session() as s:
            row = self._find(s, tenant_id, lead_id)
            if row is None:
                raise NotFound(f"lead {lead_id[:200]!r} not found")
            return self._record(s, row)

    def find(self, tenant_id: str, lead_id: str) -> LeadRecord | None:
        with self.db.session() as s:
            row = self._find(s, tenant_id, lead_id)
            return None if row is None else self._record(s, row)

    def record_outcome(
        self,
        tenant_id: str,
        lead_id: str,
        outcome: str,
        *,
        occurred_at: datetime | None = None,
        note: str = "",
        actor: str = "",
    ) -> tuple[LeadRecord, bool]:
        """Record an outcome once (a repeat is a no-op); ``(lead, created)``. A lead won and lost is refused."""
        if outcome not in OUTCOMES:
            raise InvalidArgument(f"outcome must be one of {', '.join(OUTCOMES)}", field="outcome")
        if len(note) > 2000:
            raise InvalidArgument("note must be at most 2000 characters", field="note")
        with self.db.session() as s:
            row = self._find(s, tenant_id, lead_id)
            if row is None:
                raise NotFound(f"lead {lead_id[:200]!r} not found")
            known = {o.outcome for o in self._outcomes(s, row.id)}
            if outcome in CLOSED and (CLOSED - {outcome}) & known:
                raise InvalidArgument(
                    f"lead is already {min(CLOSED & known)}; it cannot also be {outcome}", field="outcome"
                )
            created = outcome not in known
            if created:
                at = occurred_at or datetime.now(UTC)
                s.add(
                    LeadOutcome(
                        tenant_id=tenant_id,
                        lead_id=row.id,
                        outcome=outcome,
                        occurred_at=at,
                        note=note,
                        actor=actor[:200],
                    )
                )
                if outcome in CLOSED:
                    row.closed_at = at
                s.flush()
            return self._record(s, row), created

    def stored_predictions(self, tenant_id: str, interaction_ids: Sequence[str]) -> dict[str, list[StoredPrediction]]:
        """The newest stored prediction per task of each of the tenant's ``interaction_ids`` that has any."""
        with self.db.session() as s:
            found = self._predictions(s, list(dict.fromkeys(interaction_ids)))
            return {  # an interaction's predictions carry its tenant (record_predictions checks it)
                interaction_id: [
                    StoredPrediction(p.task, p.label, p.confidence, p.model_version, tuple(p.evidence))
                    for p in per_task.values()
                ]
                for interaction_id, per_task in found.items()
                if next(iter(per_task.values())).tenant_id == tenant_id
            }

    def record_predictions(self, tenant_id: str, items: Sequence[tuple[str, Sequence[StoredPrediction]]]) -> int:
        """Store predictions of the tenant's interactions; an unknown interaction is NotFound (nothing stored)."""
        stored = 0
        with self.db.session() as s:
            for interaction_id, predictions in items:
                interaction = s.get(Interaction, interaction_id)
                if interaction is None or interaction.tenant_id != tenant_id:
                    raise NotFound(f"interaction {interaction_id[:64]!r} not found")
                # what this message already holds, in one query: (task, model version) pairs are stored once
                held = set(
                    s.execute(
                        select(InteractionPrediction.task, InteractionPrediction.model_version).where(
                            InteractionPrediction.interaction_id == interaction_id
                        )
                    ).tuples()
                )
                for p in predictions:
                    if not p.task or not p.label or not 0.0 <= p.confidence <= 1.0:
                        raise InvalidArgument(
                            "each prediction needs a task, a label and a confidence in [0, 1]", field="predictions"
                        )
                    if (p.task[:64], p.model_version[:64]) not in held:
                        held.add((p.task[:64], p.model_version[:64]))
                        s.add(
                            InteractionPrediction(
                                tenant_id=tenant_id,
                                interaction_id=interaction_id,
                                task=p.task[:64],
                                label=p.label[:200],
                                confidence=p.confidence,
                                model_version=p.model_version[:64],
                                evidence=list(p.evidence),
                            )
                        )
                        stored += 1
                self._ensure_lead_of(s, interaction)
        return stored

    def history(self, tenant_id: str, lead_id: str, *, limit: int = 50) -> LeadHistory:
        """The lead and its latest ``limit`` messages of either direction (oldest first), the customer's with their
        newest prediction per task."""
        with self.db.session() as s:
            row = self._find(s, tenant_id, lead_id)
            lead = None if row is None else self._record(s, row)
            rows = (
                s.execute(
                    select(Interaction)
                    .where(Interaction.tenant_id == tenant_id, Interaction.lead_id == lead_id)
                    .order_by(Interaction.occurred_at.desc(), Interaction.id)
                    .limit(limit)
                )
                .scalars()
                .all()
            )
            predictions = self._predictions(s, [r.id for r in rows])
        views = [(r.direction == OUTBOUND, _view(r, predictions.get(r.id, {}))) for r in reversed(rows)]
        return LeadHistory(lead, tuple(v for out, v in views if not out), outbound=tuple(v for out, v in views if out))

    def messages(self, tenant_id: str, lead_id: str, *, limit: int = 200) -> list[tuple[str, str, str]]:
        """``(interaction id, customer id, redacted text)`` of a lead's customer messages (for the
        similar-situation index)."""
        with self.db.session() as s:
            rows = s.execute(
                select(Interaction.id, Interaction.customer_id, Interaction.redacted_text)
                .where(
                    Interaction.tenant_id == tenant_id,
                    Interaction.lead_id == lead_id,
                    Interaction.direction != OUTBOUND,
                )
                .order_by(Interaction.occurred_at)
                .limit(limit)
            ).all()
        return [(i, c, t) for i, c, t in rows if t.strip()]

    def open_leads(self, *, limit: int = 1000) -> Iterator[tuple[str, str]]:
        """``(tenant, lead id)`` of leads with no won/lost outcome, most recently touched first (the scan)."""
        closed = select(LeadOutcome.lead_id).where(LeadOutcome.outcome.in_(CLOSED))
        with self.db.session() as s:
            rows = s.execute(
                select(Lead.tenant_id, Lead.external_id)
                .where(Lead.id.not_in(closed))
                .order_by(Lead.updated_at.desc())
                .limit(limit)
            ).all()
        yield from ((t, lead) for t, lead in rows)

    # -- helpers ------------------------------------------------------------------------------------------

    @staticmethod
    def _find(s: Session, tenant_id: str, lead_id: str) -> Lead | None:
        return s.execute(
            select(Lead).where(Lead.tenant_id == tenant_id, Lead.external_id == lead_id)
        ).scalar_one_or_none()

    @staticmethod
    def _outcomes(s: Session, lead_pk: str) -> list[LeadOutcome]:
        query = select(LeadOutcome).where(LeadOutcome.lead_id == lead_pk).order_by(LeadOutcome.occurred_at)
        return list(s.execute(query).scalars())

    def _record(self, s: Session, row: Lead) -> LeadRecord:
        return LeadRecord(
            tenant_id=row.tenant_id,
            lead_id=row.external_id,
            customer_id=row.customer_id,
            stage=row.stage,
            owner=row.owner,
            language=row.language,
            fields=dict(row.fields or {}),
            stage_entered_at=aware(row.stage_entered_at),
            last_touch_at=aware(row.last_touch_at) if row.last_touch_at else None,
            created_at=aware(row.created_at),
            updated_at=aware(row.updated_at),
            outcomes=tuple(OutcomeRecord(o.outcome, aware(o.occurred_at), o.note) for o in self._outcomes(s, row.id)),
        )

    @staticmethod
    def _predictions(s: Session, ids: list[str]) -> dict[str, dict[str, InteractionPrediction]]:
        """The newest prediction per (interaction, task)."""
        out: dict[str, dict[str, InteractionPrediction]] = {}
        if not ids:
            return out
        query = (
            select(InteractionPrediction)
            .where(InteractionPrediction.interaction_id.in_(ids))
            .order_by(InteractionPrediction.created_at, InteractionPrediction.id)
        )
        for p in s.execute(query).scalars():
            out.setdefault(p.interaction_id, {})[p.task] = p
        return out

    def _ensure_tenant(self, tenant_id: str) -> None:
        try:
            with self.db.session() as s:
                if s.get(Tenant, tenant_id) is None:
                    s.add(Tenant(id=tenant_id, name=tenant_id))
        except IntegrityError:
            pass  # created concurrently

    @staticmethod
    def _touch_customer(s: Session, tenant_id: str, customer_id: str) -> None:
        query = select(Customer.id).where(Customer.tenant_id == tenant_id, Customer.external_id == customer_id)
        if s.execute(query).first() is None:
            s.add(Customer(tenant_id=tenant_id, external_id=customer_id, fields={}))

    def _ensure_lead_of(self, s: Session, interaction: Interaction) -> None:
        """A message that names a lead the CRM has not sent yet creates it (stage unknown), so it can be scored."""
        if interaction.lead_id and self._find(s, interaction.tenant_id, interaction.lead_id) is None:
            s.add(
                Lead(
                    tenant_id=interaction.tenant_id,
                    external_id=interaction.lead_id,
                    customer_id=interaction.customer_id,
                    stage="",
                    fields={},
                    stage_entered_at=datetime.now(UTC),
                )
            )
            s.flush()


def _view(row: Interaction, predictions: Mapping[str, InteractionPrediction]) -> InteractionView:
    return InteractionView(
        id=row.id,
        occurred_at=aware(row.occurred_at),
        text=row.redacted_text,
        language=row.language if row.language in ("zh", "en", "mixed") else "en",
        predictions=tuple(
            Prediction(
                task=p.task,
                label=p.label,
                confidence=min(1.0, max(0.0, p.confidence)),
                evidence=tuple(Span.model_validate(e) for e in p.evidence if isinstance(e, dict)),
            )
            for p in predictions.values()
        ),
    )
