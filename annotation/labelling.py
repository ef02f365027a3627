"""Labelling and review: the caller's queue, answers, comments, history, conflicts, resolutions, agreement.

The next-item query walks ``ix_annotation_items_queue`` (project, queue_key, seq) in order and stops at the
first item the caller has not answered that still needs answers, so its cost does not grow with the queue.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from annotation import agreement
from annotation.store import Actor, audit, check_answer, describe, label_names, owned_item, owned_project
from services.common.errors import InvalidArgument
from services.common.storage import Database
from services.common.storage.models import (
    Annotation,
    AnnotationComment,
    AnnotationItem,
    AnnotationProject,
    AnnotationResolution,
)

HISTORY_LIMIT = 200


def rating(kind: str, labels: list[str], spans: list[dict[str, Any]]) -> agreement.Rating:
    """One answer as a nominal category (see :mod:`annotation.agreement`)."""
    if kind == "span":
        return tuple(sorted(f"{x['start']}:{x['end']}:{x['label']}" for x in spans))
    return tuple(sorted(labels))


def _queue_filter(project: AnnotationProject, user: str) -> Any:
    mine = exists().where(Annotation.item_id == AnnotationItem.id, Annotation.labeller == user)
    return and_(AnnotationItem.project_id == project.id, AnnotationItem.annotation_count < project.overlap, ~mine)


class Labelling:
    def __init__(self, db: Database) -> None:
        self.db = db

    def next_item(
        self, actor: Actor, project_id: str, after_item_id: str | None = None
    ) -> tuple[dict[str, Any], int] | None:
        """The caller's next item (most uncertain first) and how many remain, or None when the queue is empty."""
        with self.db.session() as s:
            project = owned_project(s, actor.tenant_id, project_id)
            condition = _queue_filter(project, actor.user)
            remaining = _remaining(s, project, actor.user)
            query = select(AnnotationItem).where(condition)
            if after_item_id:
                after = owned_item(s, actor.tenant_id, project_id, after_item_id)
                query = query.where(
                    or_(
                        AnnotationItem.queue_key > after.queue_key,
                        and_(AnnotationItem.queue_key == after.queue_key, AnnotationItem.seq > after.seq),
                    )
                )
            item = s.scalars(query.order_by(AnnotationItem.queue_key, AnnotationItem.seq).limit(1)).first()
            if item is None:
                return None
            return item_view(s, project, item, actor.user, full=False), remaining

    def get_item(self, actor: Actor, project_id: str, item_id: str, *, full: bool) -> dict[str, Any]:
        with self.db.session() as s:
            project = owned_project(s, actor.tenant_id, project_id)
            return item_view(s, project, owned_item(s, actor.tenant_id, project_id, item_id), actor.user, full=full)

    def annotate(self, actor: Actor, project_id: str, item_id: str, answer: dict[str, Any]) -> Annotation:
        """Create or change the caller's answer; audited either way. Skipping records no labels."""
        with self.db.session() as s:
            project = owned_project(s, actor.tenant_id, project_id)
            item = owned_item(s, actor.tenant_id, project_id, item_id)
            skipped = bool(answer.get("skipped"))
            labels: list[str] = []
            spans: list[dict[str, Any]] = []
            if not skipped:
                labels, spans = check_answer(project, item.text, answer.get("labels", []), answer.get("spans", []))
            row = s.scalars(
                select(Annotation).where(Annotation.item_id == item.id, Annotation.labeller == actor.user)
            ).first()
            action = "workbench.annotation.update" if row is not None else "workbench.annotation.create"
            if row is None:
                row = Annotation(tenant_id=actor.tenant_id, project_id=project.id, item_id=item.id, labeller=actor.user)
                s.add(row)
            row.labels, row.spans, row.skipped, row.seconds = labels, spans, skipped, answer.get("seconds")
            s.flush()
            item.annotation_count = _answered(s, item.id)
            audit(s, actor, action, "annotation_item", item.id, describe(labels, spans, skipped))
            s.flush()
            return row

    def stats(self, project: AnnotationProject, user: str) -> dict[str, int]:
        """Progress for the project list: items, items with enough answers, mine, open conflicts."""
        with self.db.session() as s:
            base = select(func.count()).select_from(AnnotationItem).where(AnnotationItem.project_id == project.id)
            items = s.scalar(base) or 0
            done = s.scalar(base.where(AnnotationItem.annotation_count >= project.overlap)) or 0
            mine = select(func.count()).select_from(Annotation)
            mine = mine.where(Annotation.project_id == project.id, Annotation.labeller == user, ~Annotation.skipped)
            labelled = s.scalar(mine) or 0
        conflicts = len(conflict_item_ids(self.db, project))
        return {"items": items, "done": done, "labelled_by_me": labelled, "conflicts": conflicts}

    def comment(self, actor: Actor, project_id: str, item_id: str, text: str) -> AnnotationComment:
        if not text.strip():
            raise InvalidArgument("comment text is blank", field="text")
        with self.db.session() as s:
            owned_project(s, actor.tenant_id, project_id)
            item = owned_item(s, actor.tenant_id, project_id, item_id)
            row = AnnotationComment(tenant_id=actor.tenant_id, item_id=item.id, author=actor.user, text=text.strip())
            s.add(row)
            s.flush()
            return row

    def history(self, actor: Actor, project_id: str) -> list[dict[str, Any]]:
        """The caller's answered items, most recently answered first."""
        with self.db.session() as s:
            project = owned_project(s, actor.tenant_id, project_id)
            query = (
                select(AnnotationItem)
                .join(Annotation, Annotation.item_id == AnnotationItem.id)
                .where(Annotation.project_id == project.id, Annotation.labeller == actor.user)
                .order_by(Annotation.updated_at.desc(), AnnotationItem.seq.desc())
                .limit(HISTORY_LIMIT)
            )
            return [item_view(s, project, item, actor.user, full=False) for item in s.scalars(query)]

    def conflicts(self, actor: Actor, project_id: str) -> list[dict[str, Any]]:
        with self.db.session() as s:
            project = owned_project(s, actor.tenant_id, project_id)
            ids = conflict_item_ids(self.db, project)
            out = []
            for item in s.scalars(
                select(AnnotationItem).where(AnnotationItem.id.in_(ids)).order_by(AnnotationItem.seq)
            ):
                view = item_view(s, project, item, actor.user, full=True)
                answers = [
                    {"labeller": a["labeller"], "labels": a["labels"], "spans": a["spans"]}
                    for a in view["annotations"]
                    if not a["skipped"]
                ]
                out.append({"item": view, "annotations": answers})
            return out

    def resolve(self, actor: Actor, project_id: str, item_id: str, answer: dict[str, Any]) -> AnnotationResolution:
        with self.db.session() as s:
            project = owned_project(s, actor.tenant_id, project_id)
            item = owned_item(s, actor.tenant_id, project_id, item_id)
            labels, spans = check_answer(project, item.text, answer.get("labels", []), answer.get("spans", []))
            row = s.get(AnnotationResolution, item.id)
            if row is None:
                row = AnnotationResolution(item_id=item.id, tenant_id=actor.tenant_id, project_id=project.id)
                s.add(row)
            row.labels, row.spans, row.note, row.resolved_by = labels, spans, answer.get("note", ""), actor.user
            audit(s, actor, "workbench.resolution.set", "annotation_item", item.id, describe(labels, spans))
            s.flush()
            return row

    def agreement(self, tenant_id: str, project_id: str) -> dict[str, Any]:
        with self.db.session() as s:
            project = owned_project(s, tenant_id, project_id)
            answers = _answers(s, project)
            gold = {
                item_id: rating(project.kind, g.get("labels", []), g.get("spans", []))
                for item_id, g in s.execute(
                    select(AnnotationItem.id, AnnotationItem.gold).where(
                        AnnotationItem.project_id == project.id, AnnotationItem.gold.is_not(None)
                    )
                )
                if g
            }
        by_item: dict[str, dict[str, agreement.Rating]] = {}
        by_labeller: dict[str, dict[str, agreement.Rating]] = {}
        for item_id, labeller, value in answers:
            by_item.setdefault(item_id, {})[labeller] = value
            by_labeller.setdefault(labeller, {})[item_id] = value
        result = agreement.compute(by_item, label_names(project)).to_dict()
        accuracy = agreement.gold_accuracy(by_labeller, gold)
        result["labellers"] = [
            {"labeller": who, "labelled": len(by_labeller[who]), **accuracy[who]} for who in sorted(by_labeller)
        ]
        return result


def _remaining(s: Session, project: AnnotationProject, user: str) -> int:
    """Open items minus the open ones the caller answered: two index-only counts instead of a per-item probe."""
    is_open = AnnotationItem.annotation_count < project.overlap
    open_items = (
        select(func.count()).select_from(AnnotationItem).where(AnnotationItem.project_id == project.id, is_open)
    )
    mine = (
        select(func.count())
        .select_from(Annotation)
        .join(AnnotationItem, AnnotationItem.id == Annotation.item_id)
        .where(Annotation.project_id == project.id, Annotation.labeller == user, is_open)
    )
    return (s.scalar(open_items) or 0) - (s.scalar(mine) or 0)


def _answered(s: Session, item_id: str) -> int:
    """Answers that count toward the overlap (skips do not)."""
    query = (
        select(func.count()).select_from(Annotation).where(Annotation.item_id == item_id, Annotation.skipped.is_(False))
    )
    return s.scalar(query) or 0


def _answers(s: Session, project: AnnotationProject) -> list[tuple[str, str, agreement.Rating]]:
    query = select(Annotation.item_id, Annotation.labeller, Annotation.labels, Annotation.spans).where(
        Annotation.project_id == project.id, Annotation.skipped.is_(False)
    )
    return [(i, who, rating(project.kind, labels, spans)) for i, who, labels, spans in s.execute(query)]


def conflict_item_ids(db: Database, project: AnnotationProject) -> list[str]:
    """Items with two or more answers that disagree and no resolution yet."""
    with db.session() as s:
        resolved = set(
            s.scalars(select(AnnotationResolution.item_id).where(AnnotationResolution.project_id == project.id))
        )
        seen: dict[str, set[agreement.Rating]] = {}
        counts: Counter[str] = Counter()
        for item_id, _who, value in _answers(s, project):
            seen.setdefault(item_id, set()).add(value)
            counts[item_id] += 1
    return [i for i, values in seen.items() if counts[i] >= 2 and len(values) > 1 and i not in resolved]


def _annotation_dict(a: Annotation) -> dict[str, Any]:
    return {
        "id": a.id,
        "item_id": a.item_id,
        "labeller": a.labeller,
        "labels": a.labels,
        "spans": a.spans,
        "skipped": a.skipped,
        "seconds": a.seconds,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
    }


def item_view(s: Session, project: AnnotationProject, item: AnnotationItem, user: str, *, full: bool) -> dict[str, Any]:
    """What a caller sees of an item; ``full`` (reviewers, admins) adds everyone's answers, gold and resolution."""
    annotations = list(
        s.scalars(select(Annotation).where(Annotation.item_id == item.id).order_by(Annotation.created_at))
    )
    comments = s.scalars(
        select(AnnotationComment).where(AnnotationComment.item_id == item.id).order_by(AnnotationComment.created_at)
    )
    mine = next((a for a in annotations if a.labeller == user), None)
    view: dict[str, Any] = {
        "id": item.id,
        "text": item.text,
        "lang": item.lang,
        "external_id": item.external_id,
        "source": item.source,
        "prediction": (
            {"label": item.prediction_label, "confidence": item.prediction_confidence}
            if item.prediction_confidence is not None
            else None
        ),
        "my_annotation": _annotation_dict(mine) if mine else None,
        "comments": [{"id": c.id, "author": c.author, "text": c.text, "created_at": c.created_at} for c in comments],
        "position": item.seq,
    }
    if full:
        resolution = s.get(AnnotationResolution, item.id)
        view["gold"] = item.gold
        view["annotations"] = [_annotation_dict(a) for a in annotations]
        view["resolution"] = (
            {
                "item_id": resolution.item_id,
                "labels": resolution.labels,
                "spans": resolution.spans,
                "note": resolution.note,
                "resolved_by": resolution.resolved_by,
                "updated_at": resolution.updated_at,
            }
            if resolution
            else None
        )
    return view
