"""Label resolution, deterministic stratified splits, hashing, and the JSONL that ``salesai train`` reads."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from annotation.labelling import Labelling
from annotation.snapshots import (
    Answer,
    SnapshotStore,
    export_training_jsonl,
    parse_label_studio,
    resolve,
    split_rows,
    to_jsonl,
)
from annotation.store import Actor, NewItem, ProjectStore
from annotation.uploads import parse_upload
from services.common.errors import InvalidArgument, NotFound
from services.common.storage import Database
from services.common.storage.models import AnnotationProject, Tenant
from training.data import read_examples

A, B, C = Answer(("a",)), Answer(("b",)), Answer(("c",))


@pytest.mark.parametrize(
    ("answers", "kwargs", "expected"),
    [
        ([A, A], {}, A),  # unanimous
        ([A, A, B], {}, A),  # majority
        ([A, B], {}, None),  # tie -> excluded
        ([A, B, C], {}, None),  # three-way tie
        ([A, B], {"resolution": C}, C),  # the resolution is final
        ([A, A], {"resolution": B}, B),
        ([A, B], {"gold": B}, B),  # a gold answer settles a tie
        ([A], {"min_answers": 2}, None),
        ([], {}, None),
    ],
)
def test_resolution_order(answers: list[Answer], kwargs: dict, expected: Answer | None) -> None:
    assert resolve(answers, **kwargs) == expected


def _rows(n: int) -> list[dict]:
    return [{"text": f"t{i}", "label": "x" if i % 3 else "y", "lang": "en", "item_id": f"i{i:03}"} for i in range(n)]


def test_splits_are_deterministic_stratified_and_seeded() -> None:
    first, second = split_rows(_rows(60), seed=1, dev=0.1, test=0.2), split_rows(_rows(60), seed=1, dev=0.1, test=0.2)
    assert first == second
    for label, size in (("x", 40), ("y", 20)):
        splits = [r["split"] for r in first if r["label"] == label]
        assert splits.count("test") == round(size * 0.2) and splits.count("dev") == round(size * 0.1)
    other = split_rows(_rows(60), seed=2, dev=0.1, test=0.2)
    assert [r["split"] for r in other] != [r["split"] for r in first]
    assert hashlib.sha256(to_jsonl(first)).hexdigest() == hashlib.sha256(to_jsonl(list(reversed(first)))).hexdigest()


def test_label_studio_input_errors_name_the_task() -> None:
    project = AnnotationProject(kind="single", labels=[{"name": "a"}, {"name": "b"}])
    with pytest.raises(InvalidArgument, match="JSON list"):
        parse_label_studio({"data": {}}, project, 10)
    with pytest.raises(InvalidArgument, match="task 1: data.text"):
        parse_label_studio([{"data": {"text": "ok"}}, {"data": {}}], project, 10)
    bad = [{"data": {"text": "ok"}, "annotations": [{"result": [{"value": {"choices": ["zzz"]}}]}]}]
    with pytest.raises(InvalidArgument, match="task 0 annotation 0: .*not in this project"):
        parse_label_studio(bad, project, 10)
    with pytest.raises(InvalidArgument, match="at most 1"):
        parse_label_studio([{"data": {"text": "a"}}] * 2, project, 1)


def test_uploads_name_every_bad_line() -> None:
    rows = parse_upload("x.jsonl", b'{"text": "a", "external_id": "e1"}\n\n{"text": "b"}\n', 10)
    assert [(r.line, r.text, r.external_id) for r in rows] == [(1, "a", "e1"), (3, "b", "")]
    with pytest.raises(InvalidArgument, match=r"2 bad line\(s\): line 1: .*; line 2"):
        parse_upload("x.jsonl", b'[1]\n{"text": ""}\n', 10)
    with pytest.raises(InvalidArgument, match="text"):
        parse_upload("x.csv", b"body\nhello\n", 10)
    with pytest.raises(InvalidArgument, match=".jsonl or .csv"):
        parse_upload("x.txt", b"hello", 10)
    with pytest.raises(InvalidArgument, match="UTF-8"):
        parse_upload("x.csv", b"text\n\xff\n", 10)
    assert [r.text for r in parse_upload("x.csv", 'text\n"a, b"\n中文\n'.encode(), 10)] == ["a, b", "中文"]


def test_export_training_jsonl_is_what_salesai_train_reads(migrated_url: str, tmp_path: Path) -> None:
    db = Database(migrated_url)
    with db.session() as s:
        s.add(Tenant(id="acme", name="acme"))
    who = Actor("acme", "key:k1", "project_admin")
    store = ProjectStore(db)
    project = store.create(who, {"name": "p", "kind": "single", "labels": [{"name": "a"}, {"name": "b"}], "overlap": 1})
    store.add_items(who, project.id, [NewItem(f"text {i}", "text", "en") for i in range(12)])
    labelling = Labelling(db)
    while (found := labelling.next_item(who, project.id)) is not None:
        item, _ = found
        labelling.annotate(who, project.id, item["id"], {"labels": ["a" if item["position"] % 2 else "b"]})
    snap = SnapshotStore(db).create(who, project.id, {"seed": 3, "dev": 0.2, "test": 0.2, "min_annotations": 1})
    assert snap.version == 1 and snap.counts["excluded"] == 0
    path = tmp_path / "train.jsonl"
    assert export_training_jsonl(db, "acme", snap.id, path) == snap.sha256
    assert hashlib.sha256(path.read_bytes()).hexdigest() == snap.sha256
    examples = read_examples(path)
    assert len(examples) == 12 and {e.label for e in examples} == {"a", "b"}
    assert {e.split for e in examples} == {"train", "dev", "test"}
    assert (
        SnapshotStore(db).create(who, project.id, {"seed": 3, "dev": 0.2, "test": 0.2, "min_annotations": 1}).version
        == 2
    )
    with pytest.raises(NotFound, match="not found"):
        export_training_jsonl(db, "globex", snap.id, path)
    db.dispose()
