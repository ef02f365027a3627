"""Erasure in the training files, on real files: a version trained for real (the linear head on the base encoder)
on messages of two customers stored by the real ingestion core, kept in a job folder beside its staged dataset and
rendered report, and registered. Erasing one customer cuts exactly their rows (traced by interaction id, or by
workbench item id for rows of older snapshots), keeps every other line byte for byte, notes the count in the
manifest and the report, and leaves a version that still loads; the start-up sweep does the same for a customer
erased while the training service was down. A job from before rows kept their ids (only the staged dataset names
workbench items) loses the same rows, found by their text."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy import select

from annotation.store import Actor, NewItem, ProjectStore
from models.artifacts import read_artifact
from models.registry import ModelRegistry
from models.tasks import TaskSpec
from services.common.storage import Database
from services.common.storage.models import AnnotationItem, AuditEvent
from services.ingestion.config import IngestionSettings
from services.ingestion.core import IngestCommand, IngestionCore
from services.ingestion.redaction import RedactionConfig, Redactor
from services.ingestion.server import create_core
from tests.conftest import SMALL_LABELS, small_examples
from training.data import Example, write_examples
from training.jobs.evaluation import SERVING, SUMMARY, ServingComparison, render_report, write_job_report
from training.jobs.runner import JobRunner
from training.linear import train_linear

from .conftest import training_settings

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
GONE, STAYS = "c-gone", "c-stays"


@dataclass
class World:
    ingestion: IngestionCore
    runner: JobRunner
    job: Path  # a job folder as a worker leaves it
    registered: Path  # the registry's copy of its version
    rows: dict[str, list[Example]]  # customer → their test rows
    before: dict[Path, bytes]  # every file, before the erasure
    legacy: bool  # written as before rows kept their ids


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(RedactionConfig(use_spacy=False))


@pytest.fixture
def world(
    request: pytest.FixtureRequest,
    migrated_url: str,
    data_dir: Path,
    encoder,
    redactor: Redactor,  # noqa: ANN001
) -> Iterator[World]:
    """``legacy``: the staged dataset's rows name workbench items only (older snapshots), the version's rows and
    worst errors name nothing, and the page was rendered without the inputs kept beside it (older workers)."""
    legacy = getattr(request, "param", "") == "legacy"
    ingestion = create_core(IngestionSettings(database_url=migrated_url), redactor)
    examples = small_examples(per_label=6, test_per_label=2)
    train = [e for e in examples if e.split != "test"]
    test = [e for e in examples if e.split == "test"]
    rows = {GONE: _stored(ingestion, GONE, test[:2]), STAYS: _stored(ingestion, STAYS, test[2:4])}
    # the customer's rows carry a wrong label, so the version gets them wrong and its report quotes them
    rows[GONE] = [replace(e, label=SMALL_LABELS[(SMALL_LABELS.index(e.label) + 2) % 4]) for e in rows[GONE]]
    # an older snapshot's row names the workbench item only (no interaction id); in legacy mode every row does
    for customer, n in [(GONE, 1)] + ([(GONE, 0), (STAYS, 0), (STAYS, 1)] if legacy else []):
        item = _item(ingestion.db, rows[customer][n], customer)
        rows[customer][n] = replace(rows[customer][n], item_id=item, interaction_id="")
    examples = train + rows[GONE] + rows[STAYS] + test[4:]
    job = data_dir / "jobs" / "job-1"
    (job / "version").mkdir(parents=True)
    write_examples(job / "dataset.jsonl", examples)
    spec = TaskSpec.for_labels("small_intent", list(SMALL_LABELS))
    trained_on = [replace(e, item_id="", interaction_id="") for e in examples] if legacy else examples
    train_linear(encoder, spec, trained_on, job / "version", version="v1")
    _report_page(job, legacy)
    runner = JobRunner(training_settings(migrated_url, data_dir))
    registry = ModelRegistry(runner.db, runner.settings.models.resolved_registry_dir)
    registered = registry.register(job / "version", tenant_id="acme").path
    before = {p: p.read_bytes() for p in _files(data_dir)}
    yield World(ingestion, runner, job, registered, rows, before, legacy)
    runner.close()
    ingestion.db.dispose()


def _report_page(job: Path, legacy: bool) -> None:
    """The job's page as a worker writes it (older workers rendered it from memory and kept no summary)."""
    summary = {"id": "job-1", "gate": {"passed": True, "detail": "nothing serves"}, "reproducibility": {"seed": 13}}
    serving = ServingComparison(detail="nothing serves")
    (job / SERVING).write_text(json.dumps(serving.to_dict()), encoding="utf-8")
    if not legacy:
        (job / SUMMARY).write_text(json.dumps(summary), encoding="utf-8")
        write_job_report(job)
        return
    report = json.loads((job / "version" / "report" / "metrics.json").read_text(encoding="utf-8"))
    page = render_report(summary, read_artifact(job / "version"), report, serving)
    (job / "report.html").write_text(page, encoding="utf-8")


def _stored(ingestion: IngestionCore, customer: str, examples: list[Example]) -> list[Example]:
    """Store each text as a message of ``customer``; the example becomes its redacted text with its ids."""
    out = []
    for n, e in enumerate(examples):
        stored = ingestion.ingest(IngestCommand("acme", f"{customer}-{n}", e.text, customer_id=customer)).interaction
        out.append(replace(e, text=stored.redacted_text, interaction_id=stored.id))
    return out


def _item(db: Database, example: Example, customer: str) -> str:
    """Load the message into a workbench project, as a labeller's snapshot would have; returns the item id."""
    actor = Actor("acme", "key:test")
    spec = {"name": f"erasure {example.interaction_id}", "kind": "single", "labels": [{"name": "x"}]}
    project = ProjectStore(db).create(actor, spec)
    item = NewItem(example.text, "interaction", interaction_id=example.interaction_id, customer_id=customer)
    ProjectStore(db).add_items(actor, project.id, [item])
    with db.session() as s:
        return s.scalars(select(AnnotationItem.id).where(AnnotationItem.interaction_id == example.interaction_id)).one()


def _files(data_dir: Path) -> list[Path]:
    return sorted(p for root in ("jobs", "models") for p in (data_dir / root).rglob("*") if p.is_file())


def _ids(world: World, customer: str) -> set[str]:
    return {x for e in world.rows[customer] for x in (e.interaction_id, e.item_id) if x}


def _traces(world: World, customer: str) -> set[str]:
    """The customer's texts (as written and HTML-escaped) and ids."""
    return _ids(world, customer) | {x for e in world.rows[customer] for x in (e.text, html.escape(e.text))}


def _test_rows(version: Path) -> list[dict]:
    return [json.loads(line) for line in (version / "report" / "test.jsonl").read_text(encoding="utf-8").splitlines()]


def _assert_cut(world: World, data_dir: Path) -> None:
    for path in _files(data_dir):
        body = path.read_bytes().decode("utf-8", errors="replace")
        assert [t for t in _traces(world, GONE) if t in body] == [], path
        if path.suffix == ".jsonl":  # the other lines unchanged, byte for byte
            lines = world.before[path].splitlines(keepends=True)
            kept = [x for x in lines if not any(t.encode() in x for t in _traces(world, GONE))]
            assert path.read_bytes() == b"".join(kept), path
    for version in (world.job / "version", world.registered):
        assert {r["text"] for r in _test_rows(version)} >= {e.text for e in world.rows[STAYS]}
        assert read_artifact(version).training["erased_after_evaluation"] == 2
        report = json.loads((version / "report" / "metrics.json").read_text(encoding="utf-8"))
        assert report["erased_after_evaluation"] == 2 and report["metrics"]["test_examples"] == 8  # as measured
    page = (world.job / "report.html").read_text(encoding="utf-8")
    assert "Worst errors" in page and "Confusion matrix" in page
    assert world.legacy or "2 test rows were erased after this evaluation" in page  # re-rendered with the note
    dataset = (world.job / "dataset.jsonl").read_text(encoding="utf-8")
    assert all(e.text in dataset for e in world.rows[STAYS])


@pytest.mark.parametrize("world", ["current", "legacy"], indirect=True)
def test_erasing_a_customer_cuts_their_rows_from_job_and_version_files(world: World, data_dir: Path) -> None:
    quoted = json.loads((world.job / "version" / "report" / "metrics.json").read_text(encoding="utf-8"))
    gone_errors = [e for e in quoted["worst_errors"] if e["text"] in {x.text for x in world.rows[GONE]}]
    assert gone_errors, "the version should get the mislabelled rows wrong and quote them"
    assert world.legacy or all(e.get("interaction_id", e.get("item_id")) in _ids(world, GONE) for e in gone_errors)

    amended = world.runner.erase_customer("acme", GONE, "key:test").as_dict()

    assert amended == {
        "dataset_rows": 2,
        "test_split_rows": 4,  # the job's version and the registry's copy
        "report_errors": 2 * len(gone_errors),
        "training_files": 8,  # dataset; test split, manifest, report of both versions; the job's page
        "unreadable_folders": 0,
    }
    _assert_cut(world, data_dir)
    with world.runner.db.session() as s:
        audit = s.scalars(select(AuditEvent).where(AuditEvent.action == "erase_customer_training_files")).one()
        assert (audit.target_id, audit.actor) == (GONE, "key:test") and "test_split_rows=4" in audit.reason
    again = world.runner.erase_customer("acme", GONE, "key:test").as_dict()
    assert set(again.values()) == {0}


def test_rows_of_a_customer_erased_while_the_service_was_down_are_cut_when_it_starts(
    world: World, data_dir: Path
) -> None:
    assert world.ingestion.erase_customer("acme", GONE, "key:test") == 2  # messages and workbench item go
    amended = world.runner.forget_erased().as_dict()
    assert (amended["dataset_rows"], amended["test_split_rows"], amended["training_files"]) == (2, 4, 8)
    _assert_cut(world, data_dir)
    assert set(world.runner.forget_erased().as_dict().values()) == {0}


def test_rows_without_ids_are_never_cut(world: World, data_dir: Path) -> None:
    world.ingestion.erase_customer("acme", STAYS, "key:test")
    world.ingestion.erase_customer("acme", GONE, "key:test")
    world.runner.forget_erased()
    for version in (world.job / "version", world.registered):
        assert len(_test_rows(version)) == 4  # the shipped-data rows, which name no message or item


def test_a_corrupt_report_leaves_its_folder_for_later_and_never_stops_the_others(world: World) -> None:
    """A version whose report is not JSON is reported unreadable (the gateway then lists the training files as
    pending); every other folder is still amended, and the start-up sweep does not fail on it."""
    corrupt = world.registered / "report" / "metrics.json"
    corrupt.write_bytes(b"{not json")
    amended = world.runner.erase_customer("acme", GONE, "key:test").as_dict()
    assert amended["unreadable_folders"] == 1
    assert amended["dataset_rows"] == 2 and amended["test_split_rows"] == 2  # the job's own version only
    assert not {e.text for e in world.rows[GONE]} & {r["text"] for r in _test_rows(world.job / "version")}
    assert corrupt.read_bytes() == b"{not json"  # left as it was, for an operator to restore
    world.ingestion.erase_customer("acme", GONE, "key:test")
    assert world.runner.forget_erased().as_dict()["unreadable_folders"] == 1
