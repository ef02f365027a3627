"""The queue: start each queued job in its own worker process when its device has a free slot, notice workers
that end, cancel by terminating the worker, and pick up jobs a dead worker left ``running``.

One scheduler runs per database (the training service). Jobs run oldest first; by default one job per device
(``jobs_per_device``); the device is CUDA when present, else the CPU, as ``SALESAI_MODELS_DEVICE`` says.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from models.device import resolve_device
from services.training.config import WORKER_SETTINGS_ENV, TrainingSettings
from training.jobs.store import JobStore, now

log = logging.getLogger("salesai.training.scheduler")


@dataclass
class Worker:
    job_id: str
    device: str
    process: subprocess.Popen[bytes] | None  # None: a worker of an earlier service process (watched by pid)
    pid: int


def devices(setting: str) -> list[str]:
    """One slot group per device: every visible GPU with ``auto``/``cuda``, else the one device named."""
    import torch

    if setting in ("auto", "cuda") and torch.cuda.is_available():
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return [str(resolve_device(setting))]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Scheduler:
    def __init__(self, store: JobStore, settings: TrainingSettings) -> None:
        self.store = store
        self.settings = settings
        self.devices = devices(settings.models.device)
        self.workers: dict[str, Worker] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="training-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop scheduling; running workers are left to finish (a restarted service adopts them)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)

    def wake(self) -> None:
        self._wake.set()

    def recover(self) -> None:
        """Jobs left ``running`` by a previous service process: adopt live workers, resume (or mark) dead ones."""
        for job in self.store.in_state("running"):
            if job.worker_pid and _alive(job.worker_pid):
                self.workers[job.id] = Worker(job.id, job.device, None, job.worker_pid)
                continue
            self.store.transition(job.id, ["running"], "interrupted", error="the worker died with the service")
            if self.settings.resume_on_start:
                self.store.transition(job.id, ["interrupted"], "queued", error="", worker_pid=None)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - a database hiccup must not kill the queue
                log.exception("scheduler tick failed")
            self._wake.wait(self.settings.poll_seconds)
            self._wake.clear()

    def tick(self) -> None:
        with self._lock:
            self._reap()
            busy = [w.device for w in self.workers.values()]
            free = [d for d in self.devices for _ in range(self.settings.jobs_per_device - busy.count(d))]
            if not free:
                return
            for job, device in zip(self.store.in_state("queued"), free, strict=False):
                self._launch(job.id, device, first_start=job.started_at is None, created_at=job.created_at)

    def _launch(self, job_id: str, device: str, *, first_start: bool, created_at: datetime) -> None:
        started = now()
        job = self.store.get(job_id)
        fields: dict[str, object] = {"device": device, "error": "", "attempts": job.attempts + 1}
        if first_start:
            fields["started_at"] = started
        if not self.store.transition(job_id, ["queued"], "running", **fields):
            return  # cancelled meanwhile
        phases = dict(job.phases)
        if first_start:  # SQLite hands back naive UTC datetimes
            created = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)
            phases["queue"] = round((started - created).total_seconds(), 3)
        folder = self.settings.resolved_jobs_dir / job_id
        folder.mkdir(parents=True, exist_ok=True)
        process = self._spawn(job_id, folder)
        self.store.update(job_id, worker_pid=process.pid, phases=phases)
        self.workers[job_id] = Worker(job_id, device, process, process.pid)
        log.info("worker started", extra={"job_id": job_id, "device": device, "pid": process.pid})

    def _spawn(self, job_id: str, folder: Path) -> subprocess.Popen[bytes]:
        env = {**os.environ, WORKER_SETTINGS_ENV: self.settings.for_worker()}
        with open(folder / "worker.log", "ab") as log_file:
            return subprocess.Popen(
                [sys.executable, "-m", "training.jobs.worker", job_id],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: cancel ends it and anything it started
            )

    def _reap(self) -> None:
        for job_id, worker in list(self.workers.items()):
            code = worker.process.poll() if worker.process else (None if _alive(worker.pid) else -1)
            if code is None:
                continue
            del self.workers[job_id]
            if code < 0:  # killed by a signal: what it had checkpointed survives
                reason = (
                    f"the worker was killed ({signal.Signals(-code).name if -code in signal.valid_signals() else code})"
                )
                self.store.transition(job_id, ["running"], "interrupted", error=reason, worker_pid=None)
            else:
                reason = f"the worker exited with code {code} before finishing; see its log"
                self.store.transition(job_id, ["running"], "failed", error=reason, worker_pid=None, finished_at=now())

    def cancel(self, job_id: str) -> None:
        """Cancel a queued job, or terminate a running one's worker (SIGTERM, then SIGKILL after the grace)."""
        with self._lock:
            self.store.transition(job_id, ["queued", "running"], "cancelled", finished_at=now(), worker_pid=None)
            worker = self.workers.pop(job_id, None)
        if worker is not None:
            _terminate(worker, self.settings.cancel_grace_seconds)


def _terminate(worker: Worker, grace: float) -> None:
    try:
        os.killpg(worker.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if (worker.process.poll() if worker.process else None) is not None or not _alive(worker.pid):
            return
        time.sleep(0.05)
    try:
        os.killpg(worker.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if worker.process is not None:
        worker.process.wait()
