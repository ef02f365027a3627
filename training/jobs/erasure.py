"""Erasure in the training files (GDPR art. 17 / PIPL art. 47): a customer's rows cut out of every file that a
training job or a model version keeps.

The files that hold redacted customer text, and how their rows trace back to a customer (:mod:`training.data`):

- ``<jobs_dir>/<job>/dataset.jsonl``: the dataset a snapshot job staged. It holds the snapshot's rows, with
  ``item_id``, plus ``interaction_id`` for items loaded from stored messages;
- ``report/test.jsonl`` of every version folder, in the registry and in the job folders: the test split that
  the promotion gate measures versions on again. Its rows keep the ids of the rows they came from;
- ``report/metrics.json`` of those versions: its ``worst_errors`` quote test texts, and each entry carries its
  row's ids;
- ``<jobs_dir>/<job>/report.html``: rendered again from the amended report.

A row goes when its ``interaction_id`` is one of the customer's messages, or its ``item_id`` is one of the
workbench items loaded from them. Versions written before rows kept their ids have test rows and worst errors
without ids. Those are matched by text against the staged dataset rows cut from the same job (and from versions
of the same data, such as the registry's copy), and their report page loses the quoted rows in place. Any other
row without ids (an uploaded text, a data team's file) belongs to nobody in particular, so it stays.

Files are rewritten atomically (a temporary file, then a rename). The kept lines stay byte for byte, so versions
that shared a test split still share one. The figures are not recomputed, because that needs the model. Instead,
the report's ``erased_after_evaluation`` and the manifest's ``training.erased_after_evaluation`` say how many
test rows went after the figures were measured. What stays: the weights, which were trained before the erasure
(retrain the task to forget the rows), and the manifest's ``data_hash`` and the job's ``data_sha256``, which
record what was trained on.

The training service runs this, because it owns the job folders and writes the registry's versions.
:meth:`training.jobs.runner.JobRunner.erase_customer` (gRPC ``EraseCustomer``) is called by the gateway before
the ingestion service deletes the interactions, because their ids are what find the rows. If the service was
unreachable during an erasure, :func:`forget_erased` catches the customer's rows when the service next starts
(rows whose message or item is no longer stored). A worker runs the same check on its own folder before it
reports and registers the version it trained.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.errors import InvalidArgument
from services.common.storage import Database
from services.common.storage.models import AnnotationItem, AuditEvent, Interaction

MANIFEST = "salesai_model.json"  # models.artifacts.MANIFEST (that module loads torch; this one needs none)
DATASET = "dataset.jsonl"
PAGE = "report.html"
TEST_SPLIT = Path("report") / "test.jsonl"
REPORT = Path("report") / "metrics.json"
ERASED = "erased_after_evaluation"

log = logging.getLogger("salesai.training.erasure")


@dataclass(frozen=True)
class Doomed:
    """The rows to cut: those of these workbench items or of these stored messages, and rows with no id at all
    whose text is one of ``texts`` (rows written before rows kept their ids)."""

    item_ids: frozenset[str] = frozenset()
    interaction_ids: frozenset[str] = frozenset()
    texts: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.item_ids or self.interaction_ids or self.texts)

    def matches(self, row: Mapping[str, Any]) -> bool:
        item, interaction, text = row.get("item_id"), row.get("interaction_id"), row.get("text")
        if item or interaction:
            return (isinstance(item, str) and item in self.item_ids) or (
                isinstance(interaction, str) and interaction in self.interaction_ids
            )
        return isinstance(text, str) and text in self.texts


@dataclass
class Amended:
    """What one erasure cut out of the training files, by kind (the gateway adds these to its reply)."""

    dataset_rows: int = 0  # rows of datasets staged by jobs
    test_split_rows: int = 0  # rows of versions' test splits
    report_errors: int = 0  # worst-error entries of evaluation reports
    training_files: int = 0  # files rewritten, job report pages included
    unreadable_folders: int = 0  # folders with a corrupt or unreadable file: not amended (retried on start)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def add(self, other: Amended) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(frozen=True)
class TrainingFiles:
    """Where the files are: the job folders under ``jobs_dir`` and the version folders under ``registry_dir``."""

    jobs_dir: Path
    registry_dir: Path

    def job_folders(self) -> list[Path]:
        if not self.jobs_dir.is_dir():
            return []
        return sorted(p for p in self.jobs_dir.iterdir() if p.is_dir() and not p.name.startswith("."))

    def version_folders(self) -> list[Path]:
        """Every folder with a manifest under the registry (registered versions, leftovers of ``.staging``)."""
        if not self.registry_dir.is_dir():
            return []
        return sorted({manifest.parent for manifest in self.registry_dir.rglob(MANIFEST)})


def customer_rows(s: Session, tenant_id: str, customer_id: str) -> Doomed:
    """The customer's stored messages and the workbench items loaded from them (call it before they are erased)."""
    messages = select(Interaction.id).where(Interaction.tenant_id == tenant_id, Interaction.customer_id == customer_id)
    items = select(AnnotationItem.id, AnnotationItem.interaction_id).where(
        AnnotationItem.tenant_id == tenant_id, AnnotationItem.customer_id == customer_id
    )
    item_rows = list(s.execute(items))
    interaction_ids = set(s.scalars(messages)) | {source for _, source in item_rows if source}
    return Doomed(frozenset(item for item, _ in item_rows), frozenset(interaction_ids))


def erase_customer(db: Database, files: TrainingFiles, tenant_id: str, customer_id: str, actor: str) -> Amended:
    """Cut the customer's rows out of every job folder and version folder, and write an audit row with the counts."""
    for name, value, longest in (("tenant_id", tenant_id, 64), ("customer_id", customer_id, 200)):
        if not value or len(value) > longest:
            raise InvalidArgument(f"{name} must be 1-{longest} characters", field=name)
    with db.session() as s:
        doomed = customer_rows(s, tenant_id, customer_id)
    amended = amend(files.job_folders(), files.version_folders(), doomed)
    with db.session() as s:
        s.add(
            AuditEvent(
                tenant_id=tenant_id,
                actor=actor[:200] or "training",
                action="erase_customer_training_files",
                target_type="customer",
                target_id=customer_id,
                reason=", ".join(f"{k}={v}" for k, v in amended.as_dict().items()),
            )
        )
    return amended


def forget_erased(db: Database, job_folders: Iterable[Path], version_folders: Iterable[Path]) -> Amended:
    """Cut the rows whose message or workbench item is no longer stored (their customer was erased while this
    service was unreachable, or while a worker trained on them). Both ids are primary keys that only erasure
    deletes, so a row that names an id this database no longer holds belongs to an erased customer."""
    job_folders, version_folders = list(job_folders), list(version_folders)
    unreadable: set[Path] = set()
    named = _named(job_folders, version_folders, unreadable)
    amended = amend(job_folders, version_folders, _gone(db, named)) if named else Amended()
    # a file that cannot be read may still quote an erased customer: its folder stays reported until repaired
    amended.unreadable_folders = max(amended.unreadable_folders, len(unreadable))
    return amended


def amend(job_folders: Iterable[Path], version_folders: Iterable[Path], doomed: Doomed) -> Amended:
    """Cut ``doomed`` rows out of each job folder (dataset, version, report page) and each version folder."""
    amended = Amended()
    if not doomed:
        return amended
    legacy: dict[str, frozenset[str]] = {}  # data_hash → texts of the dataset rows cut (rows without ids)
    for folder in job_folders:

        def job(f: Path = folder) -> Amended:
            return _amend_job(f, doomed, legacy)

        amended.add(_guarded(folder, job))
    for folder in version_folders:

        def version(f: Path = folder) -> Amended:
            return _amend_version(f, replace(doomed, texts=legacy.get(_data_hash(f), frozenset())))[0]

        amended.add(_guarded(folder, version))
    return amended


def _guarded(folder: Path, cut: Callable[[], Amended]) -> Amended:
    """One folder's cut; a corrupt or unreadable file there leaves that folder as it is, never the others."""
    try:
        return cut()
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        log.error(
            "erasure: a training folder has an unreadable file; it was not amended", extra={"folder": folder.name}
        )
        return Amended(unreadable_folders=1)


def _amend_job(folder: Path, doomed: Doomed, legacy: dict[str, frozenset[str]]) -> Amended:
    cut = _cut_jsonl(folder / DATASET, doomed)
    texts = frozenset(row["text"] for row in cut if isinstance(row.get("text"), str))
    version = folder / "version"
    if texts and (data_hash := _data_hash(version)):
        legacy[data_hash] = legacy.get(data_hash, frozenset()) | texts
    amended, errors = _amend_version(version, replace(doomed, texts=texts))
    amended.dataset_rows = len(cut)
    amended.training_files += bool(cut)
    if (amended.test_split_rows or errors) and (folder / PAGE).is_file():
        amended.training_files += _amend_page(folder, errors)
    return amended


def _amend_page(folder: Path, errors: list[dict[str, Any]]) -> bool:
    """Render the job's page again from its inputs; a page older than them loses the quoted rows in place.
    Returns whether the page changed."""
    from training.jobs import evaluation  # loads the model modules: only when a page changes

    if (folder / evaluation.SUMMARY).is_file() and (folder / evaluation.SERVING).is_file():
        evaluation.write_job_report(folder)
        return True
    page = (folder / PAGE).read_text(encoding="utf-8")
    for entry in errors:
        row = evaluation.worst_error_row(entry)
        if row not in page:  # not a page this code wrote: it may still quote the row, so it goes
            (folder / PAGE).unlink()
            return True
        page = page.replace(row, "", 1)
    if errors:
        _replace(folder / PAGE, page.encode("utf-8"))
    return bool(errors)


def _amend_version(folder: Path, doomed: Doomed) -> tuple[Amended, list[dict[str, Any]]]:
    """Cut the test split and the report's worst errors; returns the counts and the worst errors cut."""
    if not (folder / MANIFEST).is_file():
        return Amended(), []
    amended = Amended(test_split_rows=len(_cut_jsonl(folder / TEST_SPLIT, doomed)))
    errors = _amend_report(folder / REPORT, doomed, amended.test_split_rows)
    amended.report_errors = len(errors)
    if amended.test_split_rows:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        _count_erased(manifest.setdefault("training", {}), amended.test_split_rows)
        _write_json(folder / MANIFEST, manifest)
        amended.training_files += 2  # the test split and the manifest
    amended.training_files += bool(amended.test_split_rows or errors)  # the report
    return amended, errors


def _amend_report(path: Path, doomed: Doomed, rows: int) -> list[dict[str, Any]]:
    """Drop the doomed worst errors and count the test rows erased after evaluation; returns the errors cut."""
    if not path.is_file():
        return []
    report = json.loads(path.read_text(encoding="utf-8"))
    worst = report.get("worst_errors", [])
    cut = [entry for entry in worst if doomed.matches(entry)]
    if rows or cut:
        report["worst_errors"] = [entry for entry in worst if not doomed.matches(entry)]
        _count_erased(report, rows)
        _write_json(path, report)
    return cut


def _data_hash(version: Path) -> str:
    if not (version / MANIFEST).is_file():
        return ""
    return str(json.loads((version / MANIFEST).read_text(encoding="utf-8")).get("data_hash", ""))


def _count_erased(record: dict[str, Any], rows: int) -> None:
    record[ERASED] = int(record.get(ERASED, 0)) + rows


def _write_json(path: Path, record: dict[str, Any]) -> None:
    _replace(path, json.dumps(record, indent=2, ensure_ascii=False).encode("utf-8"))


def _cut_jsonl(path: Path, doomed: Doomed) -> list[dict[str, Any]]:
    """Rewrite a JSONL file without the doomed rows, every other line byte for byte; returns the rows cut."""
    if not path.is_file():
        return []
    lines = path.read_bytes().splitlines(keepends=True)
    records = [_record(line) for line in lines]
    cut = [record for record in records if doomed.matches(record)]
    if cut:
        _replace(path, b"".join(line for line, r in zip(lines, records, strict=True) if not doomed.matches(r)))
    return cut


def _record(line: bytes) -> dict[str, Any]:
    try:
        record = json.loads(line) if line.strip() else {}
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def _replace(path: Path, body: bytes) -> None:
    """Write ``body`` to a temporary file beside ``path``, then rename it over ``path`` (readers see old or new)."""
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(partial, path.stat().st_mode & 0o777)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def _named(job_folders: list[Path], version_folders: list[Path], unreadable: set[Path]) -> Doomed:
    """Every id that a row of these folders names (the folders of files that cannot be read go to ``unreadable``)."""
    items: set[str] = set()
    interactions: set[str] = set()
    for record in _rows(job_folders, version_folders, unreadable):
        if isinstance(item := record.get("item_id"), str) and item:
            items.add(item)
        if isinstance(interaction := record.get("interaction_id"), str) and interaction:
            interactions.add(interaction)
    return Doomed(frozenset(items), frozenset(interactions))


def _rows(job_folders: list[Path], version_folders: list[Path], unreadable: set[Path]) -> Iterator[dict[str, Any]]:
    paths = [p for f in job_folders for p in (f / DATASET, f / "version" / TEST_SPLIT, f / "version" / REPORT)]
    paths += [p for f in version_folders for p in (f / TEST_SPLIT, f / REPORT)]
    for path in paths:
        if not path.is_file():
            continue
        try:
            if path.suffix == ".jsonl":
                yield from (_record(line) for line in path.read_bytes().splitlines())
            else:
                yield from json.loads(path.read_text(encoding="utf-8")).get("worst_errors", [])
        except (OSError, ValueError, AttributeError):
            log.error("erasure: an unreadable training file was skipped", extra={"file": path.name})
            unreadable.add(path.parent.parent if path.parent.name == "report" else path.parent)


def _gone(db: Database, named: Doomed, batch: int = 500) -> Doomed:
    """The ids of ``named`` that the database no longer holds."""
    with db.session() as s:
        items = _existing(s, AnnotationItem.id, named.item_ids, batch)
        interactions = _existing(s, Interaction.id, named.interaction_ids, batch)
    return Doomed(named.item_ids - items, named.interaction_ids - interactions)


def _existing(s: Session, column: Any, ids: frozenset[str], batch: int) -> frozenset[str]:
    wanted, found = sorted(ids), set[str]()
    for start in range(0, len(wanted), batch):
        found.update(s.scalars(select(column).where(column.in_(wanted[start : start + batch]))))
    return frozenset(found)
