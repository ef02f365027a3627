"""Dataset snapshots: resolve each item's label, split train/dev/test (stratified, deterministic), hash, store.

Label of an item: the reviewer's resolution, else the gold answer, else the unanimous or majority answer among
non-skipped annotations (at least ``min_annotations`` of them); a tie at the top is left out and counted as
``excluded``. A snapshot stores its rows; the JSONL export is exactly the bytes its ``sha256`` covers, in the
format ``salesai train`` reads (``training/data.py``): ``text``, ``label`` (single), ``labels`` (multi) or
``spans`` (span), ``split``, ``lang``, plus ``item_id`` for traceability and, for an item loaded from a stored
message, its ``interaction_id`` (what lets erasing the customer find the row in training files later).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from annotation.spans import Span, remap_spans
from annotation.store import Actor, NewItem, ProjectStore, audit, check_answer, content_hash, owned_project
from services.common.errors import AlreadyExists, InvalidArgument, NotFound
from services.common.storage import Database
from services.common.storage.models import (
    Annotation,
    AnnotationItem,
    AnnotationProject,
    AnnotationResolution,
    AnnotationSnapshot,
)
from training.data import Example, assign_splits


@dataclass(frozen=True)
class Answer:
    labels: tuple[str, ...]
    spans: tuple[tuple[int, int, str], ...] = ()


def resolve(
    answers: Sequence[Answer], *, resolution: Answer | None = None, gold: Answer | None = None, min_answers: int = 1
) -> Answer | None:
    """The item's label: resolution > gold > unanimous / majority; None when too few answers or a tie."""
    if resolution is not None:
        return resolution
    if gold is not None:
        return gold
    if len(answers) < min_answers or not answers:
        return None
    ranked = Counter(answers).most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]


def _answer(labels: Sequence[str], spans: Sequence[dict[str, Any]]) -> Answer:
    return Answer(tuple(sorted(labels)), tuple(sorted((x["start"], x["end"], x["label"]) for x in spans)))


def _row(kind: str, item: AnnotationItem, answer: Answer) -> dict[str, Any]:
    row: dict[str, Any] = {"text": item.text}
    if kind == "single":
        row["label"] = answer.labels[0]
    elif kind == "multi":
        row["labels"] = list(answer.labels)
    else:
        row["spans"] = [{"start": s, "end": e, "label": label} for s, e, label in answer.spans]
    row["lang"] = item.lang
    row["item_id"] = item.id
    if item.interaction_id:
        row["interaction_id"] = item.interaction_id
    return row


def _stratum(row: dict[str, Any]) -> str:
    if "label" in row:
        return row["label"]
    if "labels" in row:
        return "|".join(row["labels"])
    return "|".join(sorted({s["label"] for s in row["spans"]}))


def split_rows(rows: list[dict[str, Any]], *, seed: int, dev: float, test: float) -> list[dict[str, Any]]:
    """Give each row a split with ``training.data.assign_splits`` (stratified by label, deterministic by seed)."""
    examples = [Example(r["text"] + "\x00" + r["item_id"], _stratum(r), "", r["lang"]) for r in rows]
    assigned = assign_splits(examples, seed=seed, dev=dev, test=test)
    return [{**r, "split": e.split} for r, e in zip(rows, assigned, strict=True)]


def to_jsonl(rows: Sequence[dict[str, Any]]) -> bytes:
    ordered = sorted(rows, key=lambda r: r["item_id"])
    return b"".join(json.dumps(r, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n" for r in ordered)


def to_label_studio(kind: str, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Label Studio tasks with one annotation each (the snapshot's label); offsets in code points."""
    tasks = []
    for n, r in enumerate(sorted(rows, key=lambda r: r["item_id"]), start=1):
        if kind == "span":
            result = [
                {
                    "from_name": "label",
                    "to_name": "text",
                    "type": "labels",
                    "value": {
                        "start": s["start"],
                        "end": s["end"],
                        "text": r["text"][s["start"] : s["end"]],
                        "labels": [s["label"]],
                    },
                }
                for s in r["spans"]
            ]
        else:
            choices = [r["label"]] if kind == "single" else r["labels"]
            result = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": choices}}]
        data = {"text": r["text"], "item_id": r["item_id"], "split": r["split"], "lang": r["lang"]}
        tasks.append({"id": n, "data": data, "annotations": [{"result": result}]})
    return tasks


class SnapshotStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, actor: Actor, project_id: str, params: dict[str, Any]) -> AnnotationSnapshot:
        if params["dev"] + params["test"] >= 1.0:
            raise InvalidArgument("dev + test must be below 1 so something is left to train on", field="test")
        try:
            with self.db.session() as s:
                project = owned_project(s, actor.tenant_id, project_id)
                rows, excluded = self._rows(s, project, params["min_annotations"])
                rows = split_rows(rows, seed=params["seed"], dev=params["dev"], test=params["test"])
                body = to_jsonl(rows)
                counts = Counter(r["split"] for r in rows)
                labels = Counter(x for r in rows for x in _row_labels(r))
                version = (
                    s.scalar(
                        select(func.max(AnnotationSnapshot.version)).where(AnnotationSnapshot.project_id == project.id)
                    )
                    or 0
                ) + 1
                snap = AnnotationSnapshot(
                    tenant_id=actor.tenant_id,
                    project_id=project.id,
                    version=version,
                    sha256=hashlib.sha256(body).hexdigest(),
                    kind=project.kind,
                    params=dict(params),
                    counts={
                        "train": counts["train"],
                        "dev": counts["dev"],
                        "test": counts["test"],
                        "excluded": excluded,
                    },
                    label_counts=dict(sorted(labels.items())),
                    rows=[json.loads(line) for line in body.splitlines()],
                    created_by=actor.user,
                )
                s.add(snap)
                s.flush()
                audit(s, actor, "workbench.snapshot.create", "annotation_snapshot", snap.id, f"version={version}")
                return snap
        except IntegrityError:
            raise AlreadyExists("another snapshot of this project was cut at the same moment; retry") from None

    def _rows(self, s: Any, project: AnnotationProject, min_answers: int) -> tuple[list[dict[str, Any]], int]:
        answers: dict[str, list[Answer]] = {}
        query = select(Annotation.item_id, Annotation.labels, Annotation.spans)
        for item_id, labels, spans in s.execute(query.where(Annotation.project_id == project.id, ~Annotation.skipped)):
            answers.setdefault(item_id, []).append(_answer(labels, spans))
        resolutions = {
            r.item_id: _answer(r.labels, r.spans)
            for r in s.scalars(select(AnnotationResolution).where(AnnotationResolution.project_id == project.id))
        }
        rows, excluded = [], 0
        for item in s.scalars(select(AnnotationItem).where(AnnotationItem.project_id == project.id)):
            gold = _answer(item.gold.get("labels", []), item.gold.get("spans", [])) if item.gold else None
            found = answers.get(item.id, [])
            answer = resolve(found, resolution=resolutions.get(item.id), gold=gold, min_answers=min_answers)
            if answer is None:
                excluded += 1 if len(found) >= min_answers else 0
                continue
            rows.append(_row(project.kind, item, answer))
        return rows, excluded

    def for_project(self, tenant_id: str, project_id: str) -> list[AnnotationSnapshot]:
        with self.db.session() as s:
            owned_project(s, tenant_id, project_id)
            query = select(AnnotationSnapshot).where(AnnotationSnapshot.project_id == project_id)
            return list(s.scalars(query.order_by(AnnotationSnapshot.version)))

    def get(self, tenant_id: str, snapshot_id: str) -> AnnotationSnapshot:
        with self.db.session() as s:
            row = s.get(AnnotationSnapshot, snapshot_id)
        if row is None or row.tenant_id != tenant_id:
            raise NotFound(f"snapshot {snapshot_id!r} not found")
        return row


def _row_labels(row: dict[str, Any]) -> list[str]:
    if "label" in row:
        return [row["label"]]
    if "labels" in row:
        return list(row["labels"])
    return [s["label"] for s in row["spans"]]


def export_training_jsonl(db: Database, tenant_id: str, snapshot_id: str, path: Path) -> str:
    """Write the snapshot's rows as the JSONL ``salesai train`` reads; returns the snapshot's sha256.

    The bytes written are the ones the sha256 was computed over, so a training job can verify its input.
    """
    snapshot = SnapshotStore(db).get(tenant_id, snapshot_id)
    body = to_jsonl(snapshot.rows)
    if hashlib.sha256(body).hexdigest() != snapshot.sha256:
        raise InvalidArgument(f"snapshot {snapshot_id!r} does not match its sha256; it was altered")
    Path(path).write_bytes(body)
    return snapshot.sha256


@dataclass
class ImportedTask:
    """One Label Studio task, parsed: the text and each annotator's answer (spans in code points)."""

    text: str
    answers: list[tuple[str, list[str], list[Span]]]  # (annotator, labels, spans)
    external_id: str = ""


def parse_label_studio(payload: Any, project: AnnotationProject, max_tasks: int) -> list[ImportedTask]:
    """Label Studio tasks JSON (a list) → parsed tasks; every problem names the task index."""
    if not isinstance(payload, list):
        raise InvalidArgument("Label Studio import must be a JSON list of tasks", field="body")
    if len(payload) > max_tasks:
        raise InvalidArgument(f"{len(payload)} tasks; at most {max_tasks} per import", field="body")
    out = []
    for n, task in enumerate(payload):
        data = task.get("data") if isinstance(task, dict) else None
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise InvalidArgument(f"task {n}: data.text must be a non-empty string", field=f"[{n}].data.text")
        answers = []
        for k, annotation in enumerate(task.get("annotations") or []):
            labels, spans = _ls_result(annotation, text, project, f"task {n} annotation {k}")
            answers.append((f"import:{_annotator(annotation)}", labels, spans))
        out.append(ImportedTask(text, answers, str(task.get("id", ""))[:200]))
    return out


def _annotator(annotation: dict[str, Any]) -> str:
    """Label Studio's ``completed_by``: a user id, or a user object whose id we keep (never its email)."""
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("id")
    return str(who)[:64] if isinstance(who, int | str) and str(who) else "label-studio"


def _ls_result(annotation: Any, text: str, project: AnnotationProject, where: str) -> tuple[list[str], list[Span]]:
    result = annotation.get("result") if isinstance(annotation, dict) else None
    if not isinstance(result, list):
        raise InvalidArgument(f"{where}: result must be a list", field="result")
    labels: list[str] = []
    raw_spans = []
    for r in result:
        value = r.get("value") if isinstance(r, dict) else None
        if not isinstance(value, dict):
            raise InvalidArgument(f"{where}: each result needs a value object", field="result")
        choices, span_labels = value.get("choices", []), value.get("labels", [])
        if not isinstance(choices, list) or not isinstance(span_labels, list):
            raise InvalidArgument(f"{where}: value.choices and value.labels must be lists", field="result")
        labels.extend(str(c) for c in choices)
        for label in span_labels:
            raw_spans.append({"start": value.get("start"), "end": value.get("end"), "label": label})
    try:
        labels, spans = check_answer(project, text, labels, raw_spans)
    except InvalidArgument as err:
        raise InvalidArgument(f"{where}: {err.message}", field="result") from None
    return labels, [Span(x["start"], x["end"], x["label"]) for x in spans]


def import_answers(
    db: Database, actor: Actor, project_id: str, tasks: Sequence[ImportedTask], redacted: Sequence[str]
) -> tuple[int, int, int, int]:
    """Add the (redacted) texts as items and their answers as annotations. Returns (added, duplicates,
    annotations, spans dropped because redaction replaced what they covered)."""
    store = ProjectStore(db)
    new = [
        NewItem(text=r, source="label_studio", external_id=t.external_id) for t, r in zip(tasks, redacted, strict=True)
    ]
    added, duplicates = store.add_items(actor, project_id, new)
    count = dropped = 0
    with db.session() as s:
        project = owned_project(s, actor.tenant_id, project_id)
        hashes = select(AnnotationItem.content_hash, AnnotationItem.id).where(AnnotationItem.project_id == project.id)
        by_hash = {digest: item_id for digest, item_id in s.execute(hashes)}
        touched: set[str] = set()
        for task, text in zip(tasks, redacted, strict=True):
            item_id = by_hash[content_hash(text)]
            touched.add(item_id)
            for who, labels, spans in task.answers:
                kept, lost = remap_spans(task.text, text, spans)
                dropped += lost
                exists = s.scalars(
                    select(Annotation).where(Annotation.item_id == item_id, Annotation.labeller == who)
                ).first()
                if exists is not None:
                    continue
                span_labels = sorted({x.label for x in kept})
                s.add(
                    Annotation(
                        tenant_id=actor.tenant_id,
                        project_id=project.id,
                        item_id=item_id,
                        labeller=who,
                        labels=span_labels if project.kind == "span" else labels,
                        spans=[x.to_dict() for x in kept],
                    )
                )
                count += 1
        s.flush()
        for item_id in touched:
            answered = (
                select(func.count()).select_from(Annotation).where(Annotation.item_id == item_id, ~Annotation.skipped)
            )
            s.execute(
                update(AnnotationItem)
                .where(AnnotationItem.id == item_id)
                .values(annotation_count=answered.scalar_subquery())
            )
        audit(s, actor, "workbench.import.label_studio", "annotation_project", project.id, f"annotations={count}")
    return added, duplicates, count, dropped
