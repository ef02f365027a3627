"""Suggestions kept in the database, the rep's verdict on each, and that verdict exported as training data.

Every text stored here is redacted: drafts come from templates over redacted input, and a rep's edited text is
passed through the ``redact`` function the store is given (the ingestion redactor in production) before it is
written — a rep may well type the customer's phone number into an edit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any, get_args

from sqlalchemy import select

from services.common.errors import InvalidArgument, NotFound
from services.common.storage import Database
from services.common.storage.models import Suggestion as SuggestionRow
from services.common.storage.models import SuggestionFeedback
from services.suggestions.domain import AI_DRAFT_MARKERS, Decision, Draft, Evidence, Suggestion

DECISIONS: tuple[str, ...] = get_args(Decision)


def strip_marker(text: str) -> str:
    """The draft without its AI-draft marker line (what a trained model should learn to write)."""
    for marker in AI_DRAFT_MARKERS.values():
        if text.startswith(marker):
            return text[len(marker) :].lstrip("\n")
    return text


class SuggestionStore:
    def __init__(self, db: Database, redact: Callable[[str], str]) -> None:
        self.db = db
        self.redact = redact

    def save(self, suggestions: Iterable[Suggestion]) -> list[str]:
        """Store suggestions not stored yet (ids are deterministic, so re-evaluations are no-ops); the new ids."""
        new = []
        with self.db.session() as session:
            for s in suggestions:
                if session.get(SuggestionRow, s.id) is not None:
                    continue
                session.add(_row(s))
                new.append(s.id)
        return new

    def load(self, suggestion_id: str) -> Suggestion | None:
        """The stored suggestion as the engine made it (to re-deliver it), or None when it is gone."""
        with self.db.session() as session:
            row = session.get(SuggestionRow, suggestion_id)
        return None if row is None else to_suggestion(row)

    def get(self, tenant_id: str, suggestion_id: str) -> SuggestionRow:
        with self.db.session() as session:
            row = session.get(SuggestionRow, suggestion_id)
        if row is None or row.tenant_id != tenant_id:
            raise NotFound(f"suggestion {suggestion_id!r} not found")
        return row

    def record_feedback(
        self,
        tenant_id: str,
        suggestion_id: str,
        decision: str,
        *,
        edited_text: str = "",
        actor: str = "",
        channel: str = "",
    ) -> str:
        """Store a rep's verdict (``accepted`` / ``edited`` with the edited text / ``rejected``); its id."""
        if decision not in DECISIONS:
            raise InvalidArgument(f"decision must be one of {', '.join(DECISIONS)}", field="decision")
        if decision == "edited" and not edited_text.strip():
            raise InvalidArgument("an edited decision needs the edited text", field="edited_text")
        with self.db.session() as session:
            row = session.get(SuggestionRow, suggestion_id)
            if row is None or row.tenant_id != tenant_id:
                raise NotFound(f"suggestion {suggestion_id!r} not found")
            feedback = SuggestionFeedback(
                tenant_id=tenant_id,
                suggestion_id=suggestion_id,
                decision=decision,
                edited_text=self.redact(strip_marker(edited_text)) if decision == "edited" else "",
                actor=actor,
                channel=channel,
            )
            session.add(feedback)
            row.status = decision
            session.flush()
            return feedback.id

    def training_rows(self, tenant_id: str, *, since: datetime | None = None) -> Iterator[dict[str, Any]]:
        """One dict per feedback, oldest first: the situation (evidence), the draft, the verdict, the final text."""
        query = (
            select(SuggestionFeedback, SuggestionRow)
            .join(SuggestionRow, SuggestionRow.id == SuggestionFeedback.suggestion_id)
            .where(SuggestionFeedback.tenant_id == tenant_id)
            .order_by(SuggestionFeedback.created_at, SuggestionFeedback.id)
        )
        if since is not None:
            query = query.where(SuggestionFeedback.created_at >= since)
        with self.db.session() as session:
            rows = session.execute(query).all()
        for feedback, suggestion in rows:
            yield _training_row(feedback, suggestion)

    def export_jsonl(self, tenant_id: str, out: str | Path | IO[str], *, since: datetime | None = None) -> int:
        """Write :meth:`training_rows` as JSON lines to a path or text stream; the number of lines."""
        if isinstance(out, str | Path):
            with Path(out).open("w", encoding="utf-8") as handle:
                return self.export_jsonl(tenant_id, handle, since=since)
        count = 0
        for row in self.training_rows(tenant_id, since=since):
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
        return count


def _row(s: Suggestion) -> SuggestionRow:
    return SuggestionRow(
        id=s.id,
        tenant_id=s.tenant_id,
        lead_id=s.lead_id,
        rule=s.rule,
        action=s.action,
        audience=s.audience,
        title=s.title[:200],
        confidence=s.confidence,
        language=s.draft.language,
        draft=s.draft.text,
        evidence=s.evidence.model_dump(mode="json"),
    )


def to_suggestion(row: SuggestionRow) -> Suggestion:
    return Suggestion(
        id=row.id,
        tenant_id=row.tenant_id,
        lead_id=row.lead_id,
        rule=row.rule,
        action=row.action,
        audience=row.audience,  # type: ignore[arg-type]
        title=row.title,
        confidence=row.confidence,
        evidence=Evidence.model_validate(row.evidence),
        draft=Draft(language=row.language, text=row.draft),
    )


def _training_row(feedback: SuggestionFeedback, suggestion: SuggestionRow) -> dict[str, Any]:
    draft = strip_marker(suggestion.draft)
    final = {"accepted": draft, "edited": feedback.edited_text}.get(feedback.decision)
    return {
        "feedback_id": feedback.id,
        "suggestion_id": suggestion.id,
        "lead_id": suggestion.lead_id,
        "rule": suggestion.rule,
        "action": suggestion.action,
        "language": suggestion.language,
        "confidence": suggestion.confidence,
        "evidence": suggestion.evidence,
        "draft": draft,
        "decision": feedback.decision,
        "final_text": final,
        "label": feedback.decision,
        "actor": feedback.actor,
        "created_at": feedback.created_at.isoformat(),
    }
