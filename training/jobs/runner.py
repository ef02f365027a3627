"""The job runner's operations, transport-free: what the gRPC servicer (and through it the REST API) calls."""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from services.common.errors import FailedPrecondition, NotFound
from services.common.storage import Database, upgrade
from services.common.storage.models import TrainingJob, TrainingJobEvent
from services.training.config import TrainingSettings
from training.data import read_examples
from training.jobs import erasure
from training.jobs.repro import code_version
from training.jobs.scheduler import Scheduler
from training.jobs.spec import (
    ACTIVE_STATES,
    FINAL_STATES,
    RESUMABLE_STATES,
    JobRequest,
    check_request,
    snapshot_exporter,
)
from training.jobs.store import JobStore

PAGE = 500
log = logging.getLogger("salesai.training")


class JobRunner:
    def __init__(self, settings: TrainingSettings) -> None:
        self.settings = settings
        upgrade(settings.resolved_database_url)
        self.db = Database(settings.resolved_database_url)
        self.store = JobStore(self.db)
        self.scheduler = Scheduler(self.store, settings)
        self.files = erasure.TrainingFiles(settings.resolved_jobs_dir, settings.models.resolved_registry_dir)
        self._erasing = threading.Lock()  # one erasure at a time rewrites the files

    def start(self) -> None:
        self.forget_erased()  # customers erased while this service was down leave no row behind
        self.scheduler.start()

    def close(self) -> None:
        self.scheduler.stop()
        self.db.dispose()

    def submit(self, request: JobRequest) -> TrainingJob:
        checked = check_request(request, self.settings.dataset_roots, self.settings.max_dataset_bytes)
        if checked.snapshot_id:
            self._check_snapshot(checked)
        job = self.store.create(checked, code_version=code_version())
        self.scheduler.wake()
        return job

    def _check_snapshot(self, request: JobRequest) -> None:
        """Export the snapshot once to see that it exists for this tenant and reads as training data."""
        staging = self.settings.resolved_jobs_dir / ".submit"
        staging.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=staging, suffix=".jsonl") as handle:
            snapshot_exporter()(self.db, request.tenant_id, request.snapshot_id, Path(handle.name))
            read_examples(Path(handle.name))

    def get(self, tenant_id: str, job_id: str) -> TrainingJob:
        return self.store.get(job_id, tenant_id)

    def jobs(self, tenant_id: str, *, task: str = "", state: str = "", limit: int = 50) -> list[TrainingJob]:
        return self.store.find(tenant_id, task=task, state=state, limit=min(max(limit, 1), 500) if limit else 50)

    def cancel(self, tenant_id: str, job_id: str) -> TrainingJob:
        job = self.store.get(job_id, tenant_id)
        if job.state not in ACTIVE_STATES:
            raise FailedPrecondition(f"job {job_id} is {job.state}; only a queued or running job can be cancelled")
        self.scheduler.cancel(job_id)
        return self.store.get(job_id)

    def resume(self, tenant_id: str, job_id: str) -> TrainingJob:
        """Queue the job again; its worker continues after the last epoch checkpoint (if one was written)."""
        job = self.store.get(job_id, tenant_id)
        self.store.require_transition(job, RESUMABLE_STATES, "queued", error="", finished_at=None, worker_pid=None)
        self.scheduler.wake()
        return self.store.get(job_id)

    def watch(
        self, tenant_id: str, job_id: str, after_seq: int = 0, *, alive: Callable[[], bool] = lambda: True
    ) -> Iterator[TrainingJobEvent]:
        """Past events, then new ones as they are written, until the job stops (or the caller goes away)."""
        self.store.get(job_id, tenant_id)
        seq = after_seq
        while alive():
            final = self.store.get(job_id).state in FINAL_STATES  # read first: later events are then all there
            events = self.store.events(job_id, seq, limit=PAGE)
            for event in events:
                seq = event.seq
                yield event
            if final and len(events) < PAGE:
                return
            if not events:
                time.sleep(0.25)

    def erase_customer(self, tenant_id: str, customer_id: str, actor: str = "") -> erasure.Amended:
        """Cut the customer's rows out of the job folders and the registry's versions (audited). Call it before
        the ingestion service erases the interactions: their ids and their workbench items' ids find the rows."""
        with self._erasing:
            return erasure.erase_customer(self.db, self.files, tenant_id, customer_id, actor)

    def forget_erased(self) -> erasure.Amended:
        """Cut the rows whose message or workbench item is no longer stored; run at start-up."""
        with self._erasing:
            amended = erasure.forget_erased(self.db, self.files.job_folders(), self.files.version_folders())
        if amended.training_files:
            log.info("erasure: rows of erased customers cut from training files", extra=amended.as_dict())
        return amended

    def report(self, tenant_id: str, job_id: str) -> str:
        job = self.store.get(job_id, tenant_id)
        path = self.settings.resolved_jobs_dir / job.id / "report.html"
        if not path.is_file():
            raise NotFound(f"job {job_id} has no report yet (state {job.state}); it is written after training")
        return path.read_text(encoding="utf-8")
