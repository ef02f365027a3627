"""gRPC ⇄ domain conversion for the training job service. No logic lives here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from salesai.training.v1 import jobs_pb2, jobs_pb2_grpc

from services.common.storage.models import TrainingJob, TrainingJobEvent
from training.jobs.runner import JobRunner
from training.jobs.spec import HyperParameters, JobRequest

STATES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
_STATE_TO_PB = {name: jobs_pb2.JobState.Value(f"JOB_STATE_{name.upper()}") for name in STATES}
_STATE_FROM_PB = {value: name for name, value in _STATE_TO_PB.items()}
_DEPLOY_TO_PB = {
    name: jobs_pb2.DeployMode.Value(f"DEPLOY_MODE_{name.upper()}") for name in ("none", "shadow", "canary")
}
_DEPLOY_FROM_PB = {value: name for name, value in _DEPLOY_TO_PB.items()} | {jobs_pb2.DEPLOY_MODE_UNSPECIFIED: "none"}


def _timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return ts


def params_from_pb(p: jobs_pb2.HyperParameters) -> HyperParameters:
    """Zero means "the default" for every field but the seed (an explicit 0 is a seed)."""
    defaults = HyperParameters()
    return HyperParameters(
        method=p.method or defaults.method,
        epochs=p.epochs or defaults.epochs,
        batch_size=p.batch_size or defaults.batch_size,
        learning_rate=p.learning_rate or defaults.learning_rate,
        lora_r=p.lora_r or defaults.lora_r,
        patience=p.patience or defaults.patience,
        seed=p.seed if p.HasField("seed") else defaults.seed,
        max_length=p.max_length,
    )


def params_to_pb(config: dict[str, object]) -> jobs_pb2.HyperParameters:
    known = {f.name for f in jobs_pb2.HyperParameters.DESCRIPTOR.fields}
    return jobs_pb2.HyperParameters(**{k: v for k, v in config.items() if k in known})


def progress_to_pb(data: dict[str, object]) -> jobs_pb2.Progress:
    known = {f.name for f in jobs_pb2.Progress.DESCRIPTOR.fields}
    return jobs_pb2.Progress(**{k: v for k, v in data.items() if k in known and v is not None})


def job_to_pb(job: TrainingJob) -> jobs_pb2.Job:
    gate = {k: v for k, v in job.gate.items() if k in {f.name for f in jobs_pb2.Gate.DESCRIPTOR.fields}}
    deploy = job.deploy_result
    return jobs_pb2.Job(
        id=job.id,
        tenant_id=job.tenant_id,
        task=job.task,
        state=_STATE_TO_PB[job.state],
        dataset_path=job.dataset_path,
        snapshot_id=job.snapshot_id,
        params=params_to_pb(job.config),
        deploy=_DEPLOY_TO_PB[job.deploy],
        canary_percent=job.canary_percent,
        progress=progress_to_pb(job.progress),
        metrics={k: float(v) for k, v in job.metrics.items() if isinstance(v, int | float)},
        version=job.version,
        gate=jobs_pb2.Gate(**gate),
        deploy_result=jobs_pb2.Deploy(
            mode=_DEPLOY_TO_PB.get(str(deploy.get("mode", "none")), jobs_pb2.DEPLOY_MODE_NONE),
            done=bool(deploy.get("done", False)),
            detail=str(deploy.get("detail", "")),
        ),
        reproducibility=jobs_pb2.Reproducibility(
            config_json=_json(job.config),
            data_sha256=job.data_sha256,
            base_model_hash=job.base_model_hash,
            code_version=job.code_version,
            seed=job.seed,
            device=job.device,
        ),
        error=job.error,
        attempts=job.attempts,
        resumed_from_epoch=job.resumed_from_epoch,
        phase_seconds={k: float(v) for k, v in job.phases.items()},
        created_by=job.created_by,
        created_at=_timestamp(job.created_at),
        started_at=_timestamp(job.started_at),
        finished_at=_timestamp(job.finished_at),
    )


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True)


def event_to_pb(event: TrainingJobEvent) -> jobs_pb2.JobEvent:
    state = event.data.get("state") if event.kind == "state" else None
    return jobs_pb2.JobEvent(
        seq=event.seq,
        kind=event.kind,
        message=event.message,
        state=_STATE_TO_PB.get(str(state), jobs_pb2.JOB_STATE_UNSPECIFIED),
        progress=progress_to_pb(event.data) if event.kind == "progress" else None,
        at=_timestamp(event.created_at),
    )


class TrainingJobsServicer(jobs_pb2_grpc.TrainingJobsServicer):
    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner

    def SubmitJob(self, request: jobs_pb2.SubmitJobRequest, context: grpc.ServicerContext) -> jobs_pb2.Job:
        job = self.runner.submit(
            JobRequest(
                tenant_id=request.tenant_id,
                task=request.task,
                dataset_path=request.dataset_path,
                snapshot_id=request.snapshot_id,
                params=params_from_pb(request.params),
                deploy=_DEPLOY_FROM_PB.get(request.deploy, "none"),
                canary_percent=request.canary_percent,
                actor=request.actor,
            )
        )
        return job_to_pb(job)

    def GetJob(self, request: jobs_pb2.GetJobRequest, context: grpc.ServicerContext) -> jobs_pb2.Job:
        return job_to_pb(self.runner.get(request.tenant_id, request.job_id))

    def ListJobs(self, request: jobs_pb2.ListJobsRequest, context: grpc.ServicerContext) -> jobs_pb2.ListJobsResponse:
        state = _STATE_FROM_PB.get(request.state, "")
        jobs = self.runner.jobs(request.tenant_id, task=request.task, state=state, limit=request.limit)
        return jobs_pb2.ListJobsResponse(jobs=[job_to_pb(j) for j in jobs])

    def CancelJob(self, request: jobs_pb2.CancelJobRequest, context: grpc.ServicerContext) -> jobs_pb2.Job:
        return job_to_pb(self.runner.cancel(request.tenant_id, request.job_id))

    def ResumeJob(self, request: jobs_pb2.ResumeJobRequest, context: grpc.ServicerContext) -> jobs_pb2.Job:
        return job_to_pb(self.runner.resume(request.tenant_id, request.job_id))

    def WatchJob(self, request: jobs_pb2.WatchJobRequest, context: grpc.ServicerContext) -> Iterator[jobs_pb2.JobEvent]:
        events = self.runner.watch(request.tenant_id, request.job_id, request.after_seq, alive=context.is_active)
        for event in events:
            yield event_to_pb(event)

    def GetJobReport(self, request: jobs_pb2.GetJobReportRequest, context: grpc.ServicerContext) -> jobs_pb2.JobReport:
        return jobs_pb2.JobReport(job_id=request.job_id, html=self.runner.report(request.tenant_id, request.job_id))

    def EraseCustomer(
        self, request: jobs_pb2.EraseCustomerRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.EraseCustomerResponse:
        amended = self.runner.erase_customer(request.tenant_id, request.customer_id, request.actor)
        return jobs_pb2.EraseCustomerResponse(erased=amended.as_dict())
