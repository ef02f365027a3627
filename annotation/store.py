"""Projects, items and gold answers, scoped to a tenant. Every write that changes a label is audited.

Items arrive here already redacted (the gateway redacts uploads through the ingestion service; interactions are
read from the master zone, redacted at ingestion). ``queue_key`` is fixed when an item is added: feedback items
first (-1), then by model confidence ascending, then items without a prediction (1.0); ties by load order.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from annotation.spans import validate_spans
from services.common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from services.common.storage import Database
from services.common.storage.models import (
    Annotation,
    AnnotationItem,
    AnnotationProject,
    AnnotationResolution,
    AnnotationSnapshot,
    AuditEvent,
    Interaction,
    Suggestion,
    SuggestionFeedback,
)

FEEDBACK_QUEUE_KEY = -1.0
NO_PREDICTION_QUEUE_KEY = 1.0
FEEDBACK_DECISIONS = ("rejected", "edited")


@dataclass(frozen=True)
class Actor:
    """Who acts: ``key:<api key id>`` plus the role, for the audit trail."""

    tenant_id: str
    user: str
    role: str = ""


@dataclass
class NewItem:
    text: str  # redacted
    source: str
    lang: str = ""
    external_id: str = ""
    interaction_id: str = ""
    customer_id: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    prediction_label: str = ""
    prediction_confidence: float | None = None


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def audit(s: Session, actor: Actor, action: str, target_type: str, target_id: str, reason: str = "") -> None:
    """One audit row; ``reason`` carries label names and counts only, never item text."""
    s.add(
        AuditEvent(
            tenant_id=actor.tenant_id,
            actor=actor.user,
            role=actor.role,
            action=action,
            target_type=target_type,
            target_id=target_id,
            reason=reason[:2000],
        )
    )


def owned_project(s: Session, tenant_id: str, project_id: str) -> AnnotationProject:
    row = s.get(AnnotationProject, project_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound(f"project {project_id!r} not found")
    return row


def owned_item(s: Session, tenant_id: str, project_id: str, item_id: str) -> AnnotationItem:
    row = s.get(AnnotationItem, item_id)
    if row is None or row.tenant_id != tenant_id or row.project_id != project_id:
        raise NotFound(f"item {item_id!r} not found in project {project_id!r}")
    return row


def label_names(project: AnnotationProject) -> list[str]:
    return [label["name"] for label in project.labels]


def check_labels(labels: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Unique names and unique non-empty hotkeys; returns plain dicts to store."""
    names = [x["name"].strip() for x in labels]
    if any(not n for n in names):
        raise InvalidArgument("labels: a label name is blank", field="labels")
    if len(set(names)) != len(names):
        raise InvalidArgument("labels: label names must be unique", field="labels")
    keys = [x.get("hotkey", "") for x in labels if x.get("hotkey")]
    if len(set(keys)) != len(keys):
        raise InvalidArgument("labels: hotkeys must be unique", field="labels")
    return [
        {"name": n, "description": x.get("description", ""), "hotkey": x.get("hotkey", "")}
        for n, x in zip(names, labels, strict=True)
    ]


def check_answer(
    project: AnnotationProject, text: str, labels: list[str], spans: list[dict[str, Any]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """An answer valid for the project's kind: single → one label, multi → ≥1, span → spans inside the text."""
    known = label_names(project)
    if project.kind == "span":
        if labels and set(labels) - set(known):
            raise InvalidArgument(f"labels: {sorted(set(labels) - set(known))} not in this project", field="labels")
        parsed = validate_spans(text, spans, known)
        return sorted({s.label for s in parsed}), [s.to_dict() for s in parsed]
    if spans:
        raise InvalidArgument(f"spans are only for span projects; this one is {project.kind!r}", field="spans")
    unknown = [x for x in labels if x not in known]
    if unknown:
        raise InvalidArgument(f"labels: {unknown[:5]} not in this project; known: {known[:20]}", field="labels")
    if len(set(labels)) != len(labels):
        raise InvalidArgument("labels: a label is listed twice", field="labels")
    if project.kind == "single" and len(labels) != 1:
        raise InvalidArgument(f"single-label project: give exactly one label, got {len(labels)}", field="labels")
    if project.kind == "multi" and not labels:
        raise InvalidArgument("multi-label project: give at least one label", field="labels")
    return sorted(labels) if project.kind == "multi" else labels, []


class ProjectStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, actor: Actor, spec: dict[str, Any]) -> AnnotationProject:
        row = AnnotationProject(
            tenant_id=actor.tenant_id,
            name=_name(spec["name"]),
            description=spec.get("description") or "",
            kind=spec["kind"],
            labels=check_labels(spec["labels"]),
            overlap=spec.get("overlap") or 1,
            task=spec.get("task") or "",
            instructions=spec.get("instructions") or "",
            created_by=actor.user,
        )
        try:
            with self.db.session() as s:
                s.add(row)
                s.flush()
                audit(s, actor, "workbench.project.create", "annotation_project", row.id, f"kind={row.kind}")
        except IntegrityError:
            raise AlreadyExists(f"a project named {row.name!r} already exists", field="name") from None
        return row

    def get(self, tenant_id: str, project_id: str) -> AnnotationProject:
        with self.db.session() as s:
            return owned_project(s, tenant_id, project_id)

    def for_tenant(self, tenant_id: str) -> list[AnnotationProject]:
        with self.db.session() as s:
            query = select(AnnotationProject).where(AnnotationProject.tenant_id == tenant_id)
            return list(s.scalars(query.order_by(AnnotationProject.created_at, AnnotationProject.id)))

    def update(self, actor: Actor, project_id: str, changes: dict[str, Any]) -> AnnotationProject:
        try:
            with self.db.session() as s:
                row = owned_project(s, actor.tenant_id, project_id)
                if changes.get("labels") is not None:
                    labels = check_labels(changes["labels"])
                    removed = set(label_names(row)) - {x["name"] for x in labels}
                    _refuse_removing_used(s, row, removed)
                    row.labels = labels
                for key in ("name", "description", "overlap", "instructions", "task"):
                    if changes.get(key) is not None:
                        setattr(row, key, _name(changes[key]) if key == "name" else changes[key])
                audit(s, actor, "workbench.project.update", "annotation_project", row.id, ",".join(sorted(changes)))
                s.flush()
                return row
        except IntegrityError:
            raise AlreadyExists(f"a project named {changes.get('name')!r} already exists", field="name") from None

    def add_items(
        self, actor: Actor, project_id: str, items: Iterable[NewItem], *, feedback_cursor: datetime | None = None
    ) -> tuple[int, int]:
        """Add items not already in the project (same redacted text = duplicate). Returns (added, duplicates).

        All or nothing: a concurrent load of the same text makes this one fail with 409 (retry it), not half-load.
        """
        try:
            return self._add_items(actor, project_id, items, feedback_cursor)
        except IntegrityError:
            raise FailedPrecondition("another load added some of these items at the same moment; retry") from None

    def _add_items(
        self, actor: Actor, project_id: str, items: Iterable[NewItem], feedback_cursor: datetime | None
    ) -> tuple[int, int]:
        with self.db.session() as s:
            project = owned_project(s, actor.tenant_id, project_id)
            seen = set(s.scalars(select(AnnotationItem.content_hash).where(AnnotationItem.project_id == project.id)))
            seq = s.scalar(select(func.max(AnnotationItem.seq)).where(AnnotationItem.project_id == project.id)) or 0
            added = duplicates = 0
            for item in items:
                digest = content_hash(item.text)
                if digest in seen:
                    duplicates += 1
                    continue
                seen.add(digest)
                seq += 1
                added += 1
                s.add(_item_row(project, item, digest, seq))
            if feedback_cursor is not None:
                project.feedback_pulled_at = feedback_cursor
            audit(s, actor, "workbench.items.add", "annotation_project", project.id, f"added={added}")
        return added, duplicates

    def interactions(self, tenant_id: str, interaction_ids: Sequence[str]) -> list[Interaction]:
        """The caller's tenant's (redacted) interactions, in the order asked; any missing id is a 404."""
        with self.db.session() as s:
            rows = s.scalars(
                select(Interaction).where(Interaction.tenant_id == tenant_id, Interaction.id.in_(set(interaction_ids)))
            )
            by_id = {r.id: r for r in rows}
        missing = [i for i in dict.fromkeys(interaction_ids) if i not in by_id]
        if missing:
            raise NotFound(f"interactions not found: {missing[:5]}" + (" ..." if len(missing) > 5 else ""))
        return [by_id[i] for i in dict.fromkeys(interaction_ids)]

    def feedback_interactions(self, tenant_id: str, project_id: str) -> tuple[list[Interaction], datetime | None, int]:
        """Interactions behind suggestions reps rejected or edited since the project's last pull.

        Returns (interactions, new cursor, feedback rows seen); the cursor is stored with the items it brought.
        """
        with self.db.session() as s:
            project = owned_project(s, tenant_id, project_id)
            query = (
                select(SuggestionFeedback.created_at, Suggestion.evidence)
                .join(Suggestion, Suggestion.id == SuggestionFeedback.suggestion_id)
                .where(
                    SuggestionFeedback.tenant_id == tenant_id,
                    Suggestion.tenant_id == tenant_id,
                    SuggestionFeedback.decision.in_(FEEDBACK_DECISIONS),
                )
                .order_by(SuggestionFeedback.created_at)
            )
            if project.feedback_pulled_at is not None:
                query = query.where(SuggestionFeedback.created_at > project.feedback_pulled_at)
            rows = list(s.execute(query))
            ids = list(dict.fromkeys(i for _, evidence in rows for i in (evidence or {}).get("interaction_ids", [])))
            found = s.scalars(select(Interaction).where(Interaction.tenant_id == tenant_id, Interaction.id.in_(ids)))
            by_id = {r.id: r for r in found}
        cursor = rows[-1][0] if rows else None
        return [by_id[i] for i in ids if i in by_id], cursor, len(rows)

    def set_gold(self, actor: Actor, project_id: str, item_id: str, answer: dict[str, Any] | None) -> AnnotationItem:
        with self.db.session() as s:
            project = owned_project(s, actor.tenant_id, project_id)
            item = owned_item(s, actor.tenant_id, project_id, item_id)
            if answer is None:
                item.gold = None
                audit(s, actor, "workbench.gold.clear", "annotation_item", item.id)
            else:
                labels, spans = check_answer(project, item.text, answer.get("labels", []), answer.get("spans", []))
                item.gold = {"labels": labels, "spans": spans}
                audit(s, actor, "workbench.gold.set", "annotation_item", item.id, describe(labels, spans))
            s.flush()
            return item


def erase_customer_items(s: Session, tenant_id: str, customer_id: str) -> int:
    """An ingestion ``Eraser``: delete the items loaded from a customer's messages (their answers, comments and
    resolutions go with them by cascade) and cut their rows out of the tenant's snapshots.

    Redacted text is still personal data while it can be linked to the person, so an erasure amends snapshots,
    which are otherwise immutable: the rows go, ``sha256`` becomes the hash of what is left (so an export still
    verifies), the split and label counts drop, and ``counts["erased"]`` says how many rows erasure removed. A
    training job that already ran on the snapshot keeps the old hash in its own record (``data_sha256``), which
    is how it stays traceable. Returns items deleted plus snapshot rows removed."""
    if not customer_id:
        return 0  # items loaded from texts or uploads have no customer; never erase them all
    doomed = select(AnnotationItem.id).where(
        AnnotationItem.tenant_id == tenant_id, AnnotationItem.customer_id == customer_id
    )
    ids = list(s.scalars(doomed))
    if not ids:
        return 0
    rows = _amend_snapshots(s, tenant_id, set(ids))
    s.execute(delete(AnnotationItem).where(AnnotationItem.id.in_(ids)))
    return len(ids) + rows


def _amend_snapshots(s: Session, tenant_id: str, item_ids: set[str]) -> int:
    from annotation.snapshots import to_jsonl  # annotation.snapshots imports this module

    removed_total = 0
    for snap in s.scalars(select(AnnotationSnapshot).where(AnnotationSnapshot.tenant_id == tenant_id)):
        removed = [r for r in snap.rows if r.get("item_id") in item_ids]
        if not removed:
            continue
        snap.rows = [r for r in snap.rows if r.get("item_id") not in item_ids]
        snap.sha256 = hashlib.sha256(to_jsonl(snap.rows)).hexdigest()
        counts = _minus(snap.counts, Counter(r.get("split", "") for r in removed))
        snap.counts = {**counts, "erased": int(counts.get("erased", 0)) + len(removed)}
        labels = _minus(snap.label_counts, Counter(x for r in removed for x in _labels(r)))
        snap.label_counts = {k: v for k, v in labels.items() if v}
        removed_total += len(removed)
    return removed_total


def _minus(counts: dict[str, Any], gone: Counter[str]) -> dict[str, Any]:
    return {k: (v - gone.get(k, 0) if isinstance(v, int) else v) for k, v in counts.items()}


def _labels(row: dict[str, Any]) -> list[str]:
    if "label" in row:
        return [row["label"]]
    return list(row.get("labels", [s["label"] for s in row.get("spans", [])]))


def _name(raw: str) -> str:
    if not raw.strip():
        raise InvalidArgument("project name is blank", field="name")
    return raw.strip()


def describe(labels: Sequence[str], spans: Sequence[dict[str, Any]], skipped: bool = False) -> str:
    """An audit reason: label names and span offsets, never the text they cover."""
    if skipped:
        return "skipped"
    span_part = ",".join(f"{x['start']}-{x['end']}:{x['label']}" for x in spans)
    return f"labels={','.join(labels)}" + (f"; spans={span_part}" if spans else "")


def _item_row(project: AnnotationProject, item: NewItem, digest: str, seq: int) -> AnnotationItem:
    if item.source == "feedback":
        key = FEEDBACK_QUEUE_KEY
    elif item.prediction_confidence is not None:
        key = float(item.prediction_confidence)
    else:
        key = NO_PREDICTION_QUEUE_KEY
    return AnnotationItem(
        tenant_id=project.tenant_id,
        project_id=project.id,
        seq=seq,
        text=item.text,
        content_hash=digest,
        source=item.source,
        interaction_id=item.interaction_id,
        customer_id=item.customer_id,
        external_id=item.external_id[:200],
        lang=item.lang[:8],
        meta=item.meta,
        prediction_label=item.prediction_label[:200],
        prediction_confidence=item.prediction_confidence,
        queue_key=key,
    )


def _refuse_removing_used(s: Session, project: AnnotationProject, removed: set[str]) -> None:
    if not removed:
        return
    used: set[str] = set()
    for labels, spans in s.execute(
        select(Annotation.labels, Annotation.spans).where(Annotation.project_id == project.id)
    ):
        used.update(labels)
        used.update(x["label"] for x in spans)
    for labels, spans in s.execute(
        select(AnnotationResolution.labels, AnnotationResolution.spans).where(
            AnnotationResolution.project_id == project.id
        )
    ):
        used.update(labels)
        used.update(x["label"] for x in spans)
    for (gold,) in s.execute(select(AnnotationItem.gold).where(AnnotationItem.project_id == project.id)):
        if gold:
            used.update(gold.get("labels", []))
    in_use = sorted(removed & used)
    if in_use:
        raise FailedPrecondition(f"labels {in_use} are used by annotations and cannot be removed", field="labels")
