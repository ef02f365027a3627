"""``python -m training.jobs.worker JOB_ID``: run one claimed job to its end, in its own process.

The scheduler starts it with the service's settings in ``SALESAI_TRAINING_WORKER_SETTINGS``. Everything the job
produces lives in ``<jobs_dir>/<job id>/``: the epoch checkpoint, the trained version, ``report.html`` and the
worker log. A run that finds a checkpoint continues after its epoch. The job's final state is written with a
conditional update, so a job cancelled meanwhile stays cancelled.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.artifacts import ModelArtifact
from models.encoder import BaseEncoder
from models.registry import ModelRegistry
from models.tasks import TaskSpec, default_tasks
from services.common.errors import AlreadyExists, SalesAIError
from services.common.logging import configure_logging
from services.common.storage import Database
from services.common.storage.models import TrainingJob
from services.training.config import WORKER_SETTINGS_ENV, TrainingSettings
from training.data import Example, assign_splits, by_split, read_examples
from training.jobs.deploy import decide, deploy
from training.jobs.erasure import forget_erased
from training.jobs.evaluation import SERVING, SUMMARY, compare_with_serving, write_job_report
from training.jobs.repro import file_sha256
from training.jobs.spec import snapshot_exporter
from training.jobs.store import JobStore, now

log = logging.getLogger("salesai.training.worker")
PROGRESS_EVERY_SECONDS = 1.0


@dataclass
class JobRun:
    settings: TrainingSettings
    store: JobStore
    job: TrainingJob
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.settings.resolved_jobs_dir / self.job.id

    def say(self, message: str, **data: Any) -> None:
        self.store.event(self.job.id, "log", message, data)

    def timed(self, phase: str, started: float) -> None:
        self.phases[phase] = round(time.perf_counter() - started, 3)

    def run(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.phases = dict(self.job.phases)
        self.say(f"worker started on {self.job.device} (attempt {self.job.attempts})", pid=os.getpid())
        examples, sha = self.dataset()
        spec = default_tasks().get(self.job.task) or TaskSpec.for_labels(self.job.task, [e.label for e in examples])
        encoder = self.encoder()
        self.store.update(self.job.id, data_sha256=sha, base_model_hash=encoder.hash)
        started = time.perf_counter()
        artifact = self.train(encoder, spec, examples)
        self.timed("train", started)
        self.finish(encoder, spec, artifact, examples)

    def dataset(self) -> tuple[list[Example], str]:
        """The job's examples with splits (as ``salesai train`` assigns them) and the file's sha256."""
        path = Path(self.job.dataset_path)
        if self.job.snapshot_id:
            path = self.folder / "dataset.jsonl"
            exporter = snapshot_exporter()
            exporter(self.store.db, self.job.tenant_id, self.job.snapshot_id, path)
        sha = file_sha256(path)
        if self.job.data_sha256 and sha != self.job.data_sha256:
            raise SalesAIError("the dataset changed since this job started; submit a new job", reason="data_changed")
        examples = assign_splits(read_examples(path), dev=0.1, test=0.2)
        counts = {name: len(rows) for name, rows in by_split(examples).items()}
        self.say(
            f"dataset: {len(examples)} examples ({counts['train']} train, {counts['dev']} dev, {counts['test']} test)"
        )
        return examples, sha

    def encoder(self) -> BaseEncoder:
        import torch

        if self.settings.torch_threads:
            torch.set_num_threads(self.settings.torch_threads)
        models = self.settings.models
        update: dict[str, Any] = {"device": self.job.device or models.device}
        if self.job.config.get("max_length"):
            update["max_length"] = int(self.job.config["max_length"])
        return BaseEncoder.from_settings(models.model_copy(update=update), for_training=True)

    def train(self, encoder: BaseEncoder, spec: TaskSpec, examples: list[Example]) -> ModelArtifact:
        from training.linear import LinearConfig, train_linear
        from training.lora import Progress, TrainConfig, train_lora

        params = self.job.config
        out = self.folder / "version"
        shutil.rmtree(out, ignore_errors=True)  # a half-written version of a killed attempt
        version = f"job-{self.job.id[:8]}"  # the registry's number is given at registration
        if params["method"] == "linear":
            self.say("training a linear head on frozen embeddings")
            return train_linear(encoder, spec, examples, out, version=version, config=LinearConfig(seed=params["seed"]))
        config = TrainConfig(
            epochs=params["epochs"],
            patience=params["patience"],
            batch_size=params["batch_size"],
            learning_rate=params["learning_rate"],
            lora_r=params["lora_r"],
            seed=params["seed"],
        )
        last = 0.0

        def report(p: Progress) -> None:
            nonlocal last
            epoch_end = p.dev_macro_f1 is not None
            if not epoch_end and time.monotonic() - last < PROGRESS_EVERY_SECONDS:
                return
            last = time.monotonic()
            progress: dict[str, float | None] = {
                "epoch": p.epoch,
                "epochs": p.epochs,
                "step": p.step,
                "steps": p.steps,
                "loss": p.loss,
            }
            if epoch_end:
                progress["dev_macro_f1"] = p.dev_macro_f1
            message = f"epoch {p.epoch}/{p.epochs} step {p.step}/{p.steps} loss {p.loss:.4f}"
            if epoch_end:
                message += f" dev macro-F1 {p.dev_macro_f1:.4f} (checkpoint saved)"
            self.store.event(self.job.id, "progress", message, progress)
            self.store.update(self.job.id, progress=progress)

        checkpoint = self.folder / "checkpoint"
        if (checkpoint / "checkpoint.pt").is_file():
            self.say("resuming from the last epoch checkpoint")
        artifact = train_lora(
            encoder, spec, examples, out, version=version, config=config, on_progress=report, checkpoint_dir=checkpoint
        )
        resumed = int(artifact.training.get("resumed_from_epoch", 0))
        if resumed:
            self.store.update(self.job.id, resumed_from_epoch=resumed)
        return artifact

    def finish(self, encoder: BaseEncoder, spec: TaskSpec, artifact: ModelArtifact, examples: list[Example]) -> None:
        started = time.perf_counter()
        # a customer erased while this job trained: their rows leave the version before it is reported or registered
        forget_erased(self.store.db, [self.folder], [])
        registry = ModelRegistry(self.store.db, self.settings.models.resolved_registry_dir)
        test = by_split(examples)["test"]
        serving = compare_with_serving(encoder, registry, spec, self.job.tenant_id, test)
        gate = decide(float(artifact.metrics.get("macro_f1", 0.0)), serving, self.settings.promotion_margin)
        job = self.store.get(self.job.id)
        summary = {
            "id": job.id,
            "gate": gate.to_dict(),
            "reproducibility": {
                "config": json.dumps(job.config, sort_keys=True),
                "data sha256": job.data_sha256,
                "base model hash": job.base_model_hash,
                "code version": job.code_version,
                "seed": job.seed,
                "device": job.device,
            },
        }
        (self.folder / SUMMARY).write_text(json.dumps(summary, indent=2), encoding="utf-8")
        (self.folder / SERVING).write_text(json.dumps(serving.to_dict(), indent=2), encoding="utf-8")
        write_job_report(self.folder)
        self.timed("evaluate", started)
        self.say(gate.detail)
        metrics = {k: v for k, v in artifact.metrics.items() if isinstance(v, int | float)}
        if not gate.passed:
            self.store.transition(
                job.id, ["running"], "failed", error=f"gate {gate.detail}", gate=gate.to_dict(), metrics=metrics,
                phases=self.phases, finished_at=now(),
            )  # fmt: skip
            return
        started = time.perf_counter()
        version = self.register(registry, artifact)
        self.timed("register", started)
        result: dict[str, Any] = {"mode": job.deploy, "done": False, "detail": "not asked for"}
        if job.deploy in ("canary", "shadow"):
            result, timings = deploy(
                self.settings.inference_url,
                mode=job.deploy,
                task=spec.name,
                version=version,
                tenant_id=job.tenant_id,
                canary_percent=job.canary_percent,
                actor=f"training job {job.id}",
                timeout=self.settings.deploy_timeout_seconds,
                settings=self.settings,
            )
            self.phases.update({k: round(v, 3) for k, v in timings.items()})
            self.say(result["detail"])
        self.store.transition(
            job.id, ["running"], "succeeded", version=version, gate=gate.to_dict(), metrics=metrics,
            deploy_result=result, phases=self.phases, finished_at=now(), worker_pid=None,
        )  # fmt: skip

    def register(self, registry: ModelRegistry, artifact: ModelArtifact) -> str:
        """Give the version the registry's next number and add it (a copy: the job keeps its own)."""
        for _ in range(3):
            artifact.version = registry.next_version(artifact.task.name, self.job.tenant_id)
            artifact.write_manifest()
            try:
                info = registry.register(
                    artifact.path, tenant_id=self.job.tenant_id, created_by=f"training job {self.job.id}"
                )
            except AlreadyExists:  # another job took the number meanwhile
                continue
            self.say(f"registered {info.task} {info.version}")
            return info.version
        raise AlreadyExists("could not pick a free version number; retry the job")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one training job (started by the training service).")
    parser.add_argument("job_id")
    job_id = parser.parse_args(argv).job_id
    settings = TrainingSettings.model_validate_json(os.environ[WORKER_SETTINGS_ENV])
    configure_logging(settings.log_level, settings.log_json)
    db = Database(settings.resolved_database_url)
    store = JobStore(db)
    try:
        job = store.get(job_id)
        if job.state != "running":
            log.warning("job is not running; nothing to do", extra={"job_id": job_id, "state": job.state})
            return 0
        try:
            JobRun(settings, store, job).run()
        except SalesAIError as error:
            store.transition(job_id, ["running"], "failed", error=error.message, finished_at=now(), worker_pid=None)
        except Exception as error:  # noqa: BLE001 - recorded as the job's failure; the traceback goes to the log
            log.exception("training job failed", extra={"job_id": job_id})
            message = f"internal error ({type(error).__name__}); see the worker log of job {job_id}"
            store.transition(job_id, ["running"], "failed", error=message, finished_at=now(), worker_pid=None)
        return 0
    finally:
        db.dispose()


if __name__ == "__main__":
    sys.exit(main())
