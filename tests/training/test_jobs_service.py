"""The job lifecycle over real gRPC: submit → progress events → succeeded → report → registered version →
canary on in a real inference server; cancel; a worker SIGKILLed mid-way resumed from its checkpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import grpc
import pytest
from salesai.inference.v1 import inference_pb2
from salesai.training.v1 import jobs_pb2

from models.config import ModelSettings
from models.registry import ModelRegistry
from services.common.storage import Database

from .conftest import FINAL, submit, wait_for


def test_job_trains_reports_registers_and_starts_a_canary(
    start_training, inference, inference_stub, dataset: Path, small_artifact, migrated_url: str, data_dir: Path
) -> None:
    # a version of the task already serves acme: the job is compared with it, gated, then canaried beside it
    db = Database(migrated_url)
    registry = ModelRegistry(db, ModelSettings(data_dir=data_dir).resolved_registry_dir)
    registry.register(small_artifact.path, tenant_id="acme")
    inference_stub.ActivateModel(
        inference_pb2.ActivateModelRequest(task="small_intent", version="v1", tenant_id="acme")
    )
    stub = start_training(inference.port, promotion_margin=1.0)

    job = submit(stub, dataset, deploy=jobs_pb2.DEPLOY_MODE_CANARY, canary_percent=25)
    assert job.state == jobs_pb2.JOB_STATE_QUEUED and job.reproducibility.code_version

    events = list(stub.WatchJob(jobs_pb2.WatchJobRequest(tenant_id="acme", job_id=job.id), timeout=300))
    kinds = [e.kind for e in events]
    assert "progress" in kinds and "log" in kinds
    states = [jobs_pb2.JobState.Name(e.state) for e in events if e.kind == "state"]
    assert states == ["JOB_STATE_QUEUED", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED"]
    epochs = [e.progress.epoch for e in events if e.kind == "progress" and e.progress.dev_macro_f1 > 0]
    assert epochs == [1, 2]

    done = stub.GetJob(jobs_pb2.GetJobRequest(tenant_id="acme", job_id=job.id))
    assert done.state == jobs_pb2.JOB_STATE_SUCCEEDED, done.error
    assert done.version == "v2" and done.gate.passed and done.gate.evaluated and done.gate.serving_version == "v1"
    assert 0.0 < done.metrics["macro_f1"] <= 1.0
    repro = done.reproducibility
    assert len(repro.data_sha256) == 64 and repro.base_model_hash and repro.device == "cpu" and repro.seed == 13
    assert done.deploy_result.done, done.deploy_result.detail
    assert {"queue", "train", "evaluate", "register", "load", "canary"} <= set(done.phase_seconds)

    info = registry.get("small_intent", "v2", "acme")
    assert info.stage == "registered" and info.created_by == f"training job {job.id}"
    traffic = inference_stub.GetTraffic(inference_pb2.GetTrafficRequest(task="small_intent", tenant_id="acme"))
    assert (traffic.stable_version, traffic.canary_version, traffic.canary_percent) == ("v1", "v2", 25)

    report = stub.GetJobReport(jobs_pb2.GetJobReportRequest(tenant_id="acme", job_id=job.id)).html
    assert report.startswith("<!doctype html>") and "data:image/png;base64," in report
    for section in ("Confusion matrix", "Per-class F1", "Calibration", "Worst errors", "serving v1"):
        assert section in report
    db.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_cancel_terminates_the_worker(start_training, dataset: Path, migrated_url: str) -> None:
    stub = start_training()
    job = submit(stub, dataset, params=jobs_pb2.HyperParameters(epochs=50, patience=50))
    wait_for(stub, job.id, {jobs_pb2.JOB_STATE_RUNNING})
    pid = _worker_pid(migrated_url, job.id)
    assert _alive(pid)
    cancelled = stub.CancelJob(jobs_pb2.CancelJobRequest(tenant_id="acme", job_id=job.id))
    assert cancelled.state == jobs_pb2.JOB_STATE_CANCELLED
    assert not _alive(pid)
    time.sleep(1)  # the scheduler's next look must not revive or re-mark it
    assert stub.GetJob(jobs_pb2.GetJobRequest(tenant_id="acme", job_id=job.id)).state == jobs_pb2.JOB_STATE_CANCELLED
    with pytest.raises(grpc.RpcError) as again:
        stub.CancelJob(jobs_pb2.CancelJobRequest(tenant_id="acme", job_id=job.id))
    assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.timeout(600)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # two full trainings: once is enough
def test_worker_killed_mid_way_resumes_from_its_checkpoint_with_the_same_result(
    start_training, dataset: Path, migrated_url: str, data_dir: Path
) -> None:
    stub = start_training()
    params = jobs_pb2.HyperParameters(epochs=3, patience=3, batch_size=8, seed=7)
    job = submit(stub, dataset, params=params)
    checkpoint = data_dir / "jobs" / job.id / "checkpoint" / "checkpoint.pt"
    deadline = time.monotonic() + 180
    while not checkpoint.is_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert checkpoint.is_file(), "no checkpoint after the first epoch"
    os.kill(_worker_pid(migrated_url, job.id), signal.SIGKILL)
    killed = wait_for(stub, job.id, {jobs_pb2.JOB_STATE_INTERRUPTED})
    assert "SIGKILL" in killed.error
    seen = max(e.seq for e in stub.WatchJob(jobs_pb2.WatchJobRequest(tenant_id="acme", job_id=job.id)))

    resumed = stub.ResumeJob(jobs_pb2.ResumeJobRequest(tenant_id="acme", job_id=job.id))
    assert resumed.state == jobs_pb2.JOB_STATE_QUEUED
    after = list(stub.WatchJob(jobs_pb2.WatchJobRequest(tenant_id="acme", job_id=job.id, after_seq=seen), timeout=300))
    done = stub.GetJob(jobs_pb2.GetJobRequest(tenant_id="acme", job_id=job.id))
    assert done.state == jobs_pb2.JOB_STATE_SUCCEEDED, done.error
    assert done.attempts == 2 and done.resumed_from_epoch >= 1
    epochs_after = [e.progress.epoch for e in after if e.kind == "progress"]
    assert epochs_after and min(epochs_after) == done.resumed_from_epoch + 1  # did not restart from epoch 0
    assert any("resuming from the last epoch checkpoint" in e.message for e in after)

    # the same job never interrupted, same seed: the same metrics (resume is exact, training reproducible)
    again = submit(stub, dataset, params=params)
    clean = wait_for(stub, again.id, FINAL)
    assert clean.state == jobs_pb2.JOB_STATE_SUCCEEDED, clean.error
    assert clean.resumed_from_epoch == 0 and clean.reproducibility.data_sha256 == done.reproducibility.data_sha256
    for metric in ("macro_f1", "accuracy", "ece", "dev_macro_f1"):
        assert clean.metrics[metric] == pytest.approx(done.metrics[metric], abs=1e-6), metric


def _worker_pid(url: str, job_id: str) -> int:
    """The worker's pid is not part of the API: read it where the scheduler records it (just after the start)."""
    from services.common.storage.models import TrainingJob

    db = Database(url)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with db.session() as session:
                pid = session.get(TrainingJob, job_id).worker_pid
            if pid:
                return pid
            time.sleep(0.05)
    finally:
        db.dispose()
    raise AssertionError("the worker's pid was never recorded")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"task": "Intent-2"}, "task"),
        ({"task": ""}, "task"),
        ({"params": jobs_pb2.HyperParameters(epochs=1000)}, "epochs"),
        ({"params": jobs_pb2.HyperParameters(batch_size=-1)}, "batch_size"),
        ({"params": jobs_pb2.HyperParameters(learning_rate=-0.1)}, "learning_rate"),
        ({"params": jobs_pb2.HyperParameters(max_length=4)}, "max_length"),
        ({"params": jobs_pb2.HyperParameters(method="svm")}, "method"),
        ({"deploy": jobs_pb2.DEPLOY_MODE_CANARY, "canary_percent": 150}, "canary_percent"),
        ({"dataset_path": "/etc/hostname"}, "dataset_path"),
    ],
)
def test_bad_submissions_are_invalid_argument_and_queue_nothing(start_training, dataset: Path, fields, field) -> None:
    stub = start_training()
    request = jobs_pb2.SubmitJobRequest(tenant_id="acme", task="small_intent", dataset_path=str(dataset))
    for name, value in fields.items():
        if name == "params":
            request.params.CopyFrom(value)
        else:
            setattr(request, name, value)
    with pytest.raises(grpc.RpcError) as refused:
        stub.SubmitJob(request)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in refused.value.details()
    assert not stub.ListJobs(jobs_pb2.ListJobsRequest(tenant_id="acme")).jobs


def test_unknown_and_foreign_jobs_are_not_found(start_training, dataset: Path) -> None:
    stub = start_training()
    job = submit(stub, dataset, params=jobs_pb2.HyperParameters(epochs=1))
    stub.CancelJob(jobs_pb2.CancelJobRequest(tenant_id="acme", job_id=job.id))
    for tenant, job_id in [("acme", "0" * 32), ("acme", "x" * 500), ("globex", job.id)]:
        for call, request in [
            (stub.GetJob, jobs_pb2.GetJobRequest(tenant_id=tenant, job_id=job_id)),
            (stub.ResumeJob, jobs_pb2.ResumeJobRequest(tenant_id=tenant, job_id=job_id)),
            (stub.GetJobReport, jobs_pb2.GetJobReportRequest(tenant_id=tenant, job_id=job_id)),
        ]:
            with pytest.raises(grpc.RpcError) as missing:
                call(request)
            assert missing.value.code() == grpc.StatusCode.NOT_FOUND, (tenant, job_id)
    with pytest.raises(grpc.RpcError) as watch:
        list(stub.WatchJob(jobs_pb2.WatchJobRequest(tenant_id="globex", job_id=job.id)))
    assert watch.value.code() == grpc.StatusCode.NOT_FOUND
    assert not stub.ListJobs(jobs_pb2.ListJobsRequest(tenant_id="globex")).jobs


def test_a_job_that_fails_the_gate_registers_nothing_and_says_why(
    start_training, inference, inference_stub, dataset: Path, small_artifact, migrated_url: str, data_dir: Path
) -> None:
    db = Database(migrated_url)
    registry = ModelRegistry(db, ModelSettings(data_dir=data_dir).resolved_registry_dir)
    registry.register(small_artifact.path, tenant_id="acme")
    inference_stub.ActivateModel(
        inference_pb2.ActivateModelRequest(task="small_intent", version="v1", tenant_id="acme")
    )
    stub = start_training(inference.port, promotion_margin=0.0)
    hopeless = jobs_pb2.HyperParameters(epochs=1, batch_size=8, learning_rate=1e-6)  # learns next to nothing
    job = submit(stub, dataset, params=hopeless, deploy=jobs_pb2.DEPLOY_MODE_CANARY, canary_percent=50)
    done = wait_for(stub, job.id, FINAL)
    assert done.state == jobs_pb2.JOB_STATE_FAILED and done.error.startswith("gate refused")
    assert done.gate.evaluated and not done.gate.passed and done.gate.serving_version == "v1"
    assert done.gate.candidate_macro_f1 < done.gate.serving_macro_f1
    assert done.version == "" and not done.deploy_result.done
    assert [v.version for v in registry.versions("small_intent", "acme")] == ["v1"]
    traffic = inference_stub.GetTraffic(inference_pb2.GetTrafficRequest(task="small_intent", tenant_id="acme"))
    assert (traffic.stable_version, traffic.canary_version) == ("v1", "")
    report = stub.GetJobReport(jobs_pb2.GetJobReportRequest(tenant_id="acme", job_id=job.id)).html
    assert "not passed" in report  # the report is there to see why
    db.dispose()


def test_a_restarted_service_resumes_jobs_a_dead_worker_left_running(
    start_training, dataset: Path, migrated_url: str
) -> None:
    from training.jobs.spec import HyperParameters, JobRequest
    from training.jobs.store import JobStore

    db = Database(migrated_url)
    store = JobStore(db)  # a job the previous service process was running when it died with its worker
    job = store.create(
        JobRequest("acme", "small_intent", str(dataset), params=HyperParameters(method="linear")), code_version="t"
    )
    dead = subprocess.Popen(["true"])
    dead.wait()
    store.transition(job.id, ["queued"], "running", worker_pid=dead.pid, attempts=1, device="cpu")
    db.dispose()

    stub = start_training()
    done = wait_for(stub, job.id, FINAL)
    assert done.state == jobs_pb2.JOB_STATE_SUCCEEDED, done.error
    assert done.attempts == 2 and done.version == "v1"
    states = [e.message for e in stub.WatchJob(jobs_pb2.WatchJobRequest(tenant_id="acme", job_id=job.id))]
    assert "interrupted: the worker died with the service" in states
