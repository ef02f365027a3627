"""Training jobs (roles ml_engineer and admin; project_admin may also submit): submit, list, show, cancel,
resume, follow the progress (NDJSON stream) and read the evaluation report (HTML). Tenant-scoped: another
tenant's job is a 404, like an unknown id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, StreamingResponse
from google.protobuf.json_format import MessageToDict
from pydantic import BaseModel, ConfigDict, Field
from salesai.training.v1 import jobs_pb2

from gateway.auth import Caller
from gateway.deps import BackendsDep, JobCaller, JobSubmitter, RequestId

router = APIRouter(prefix="/v1/jobs", tags=["training jobs"])

JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Job id (32 hex characters).")]
State = Literal["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]
WATCH_SECONDS = 24 * 3600.0


class HyperParametersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Literal["lora", "linear"] = "lora"
    epochs: int = Field(12, ge=1, le=100)
    batch_size: int = Field(16, ge=1, le=512)
    learning_rate: float = Field(1e-3, gt=0, le=1)
    lora_r: int = Field(8, ge=1, le=256)
    patience: int = Field(3, ge=1, le=100)
    seed: int = Field(13, ge=0, le=2**31 - 1)
    max_length: int = Field(0, ge=0, le=512, description="Tokens per message; 0 = the service default.")


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$", description="Task name, e.g. intent or a new one.")
    dataset_path: str = Field("", max_length=4096, description="JSONL file (salesai train format) on the server.")
    snapshot_id: str = Field("", max_length=64, description="Or a workbench snapshot id.")
    params: HyperParametersIn = Field(default_factory=HyperParametersIn)
    deploy: Literal["none", "shadow", "canary"] = "none"
    canary_percent: float = Field(0.0, ge=0, le=100)


class JobPublic(BaseModel):
    id: str
    tenant_id: str
    task: str
    state: State
    dataset_path: str = ""
    snapshot_id: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    deploy: str = "none"
    canary_percent: float = 0.0
    progress: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    version: str = ""
    gate: dict[str, Any] = Field(default_factory=dict)
    deploy_result: dict[str, Any] = Field(default_factory=dict)
    reproducibility: dict[str, Any] = Field(default_factory=dict)
    error: str = ""
    attempts: int = 0
    resumed_from_epoch: int = 0
    phase_seconds: dict[str, float] = Field(default_factory=dict)
    created_by: str = ""
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None


class JobListPublic(BaseModel):
    jobs: list[JobPublic]


def _dict(message: Any) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def _enum(value: str, prefix: str) -> str:
    return value.removeprefix(prefix).lower()


def job_public(job: jobs_pb2.Job) -> JobPublic:
    data = _dict(job)
    data["state"] = _enum(data["state"], "JOB_STATE_")
    data["deploy"] = _enum(data["deploy"], "DEPLOY_MODE_")
    data["deploy_result"]["mode"] = _enum(data["deploy_result"]["mode"], "DEPLOY_MODE_")
    data["params"]["seed"] = job.params.seed
    for name in ("created_at", "started_at", "finished_at"):
        data.setdefault(name, None)
    return JobPublic.model_validate(data)


def _actor(caller: Caller) -> str:
    return f"key:{caller.key_id} ({caller.role.value})"


@router.post("", response_model=JobPublic, status_code=201, summary="Queue a training job")
async def submit(body: JobCreate, caller: JobSubmitter, backends: BackendsDep, rid: RequestId) -> JobPublic:
    request = jobs_pb2.SubmitJobRequest(
        tenant_id=caller.tenant_id,
        task=body.task,
        dataset_path=body.dataset_path,
        snapshot_id=body.snapshot_id,
        params=jobs_pb2.HyperParameters(**body.params.model_dump()),
        deploy=jobs_pb2.DeployMode.Value(f"DEPLOY_MODE_{body.deploy.upper()}"),
        canary_percent=body.canary_percent,
        actor=_actor(caller),
    )
    return job_public(await backends.training.SubmitJob(request, **backends.call_options(rid, slow=True)))


@router.get("", response_model=JobListPublic, summary="Your tenant's jobs, newest first")
async def list_jobs(
    caller: JobCaller,
    backends: BackendsDep,
    rid: RequestId,
    task: str = Query("", max_length=64),
    state: State | None = None,
    limit: int = Query(50, ge=1, le=500),
) -> JobListPublic:
    request = jobs_pb2.ListJobsRequest(
        tenant_id=caller.tenant_id,
        task=task,
        state=jobs_pb2.JobState.Value(f"JOB_STATE_{state.upper()}") if state else jobs_pb2.JOB_STATE_UNSPECIFIED,
        limit=limit,
    )
    reply = await backends.training.ListJobs(request, **backends.call_options(rid))
    return JobListPublic(jobs=[job_public(j) for j in reply.jobs])


@router.get("/{job_id}", response_model=JobPublic, summary="A job: state, progress, metrics, gate, deploy")
async def get_job(job_id: JobId, caller: JobCaller, backends: BackendsDep, rid: RequestId) -> JobPublic:
    request = jobs_pb2.GetJobRequest(tenant_id=caller.tenant_id, job_id=job_id)
    return job_public(await backends.training.GetJob(request, **backends.call_options(rid)))


@router.post("/{job_id}/cancel", response_model=JobPublic, summary="Cancel a queued or running job")
async def cancel(job_id: JobId, caller: JobCaller, backends: BackendsDep, rid: RequestId) -> JobPublic:
    request = jobs_pb2.CancelJobRequest(tenant_id=caller.tenant_id, job_id=job_id, actor=_actor(caller))
    return job_public(await backends.training.CancelJob(request, **backends.call_options(rid, slow=True)))


@router.post("/{job_id}/resume", response_model=JobPublic, summary="Resume from the last epoch checkpoint")
async def resume(job_id: JobId, caller: JobCaller, backends: BackendsDep, rid: RequestId) -> JobPublic:
    request = jobs_pb2.ResumeJobRequest(tenant_id=caller.tenant_id, job_id=job_id, actor=_actor(caller))
    return job_public(await backends.training.ResumeJob(request, **backends.call_options(rid)))


@router.get(
    "/{job_id}/events",
    summary="Progress, log lines and state changes as NDJSON, until the job stops",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
async def events(
    job_id: JobId, caller: JobCaller, backends: BackendsDep, rid: RequestId, after_seq: int = Query(0, ge=0)
) -> StreamingResponse:
    # an unknown or foreign job is a 404 before the stream starts
    await backends.training.GetJob(
        jobs_pb2.GetJobRequest(tenant_id=caller.tenant_id, job_id=job_id), **backends.call_options(rid)
    )
    options = {**backends.call_options(rid), "timeout": WATCH_SECONDS}
    call = backends.training.WatchJob(
        jobs_pb2.WatchJobRequest(tenant_id=caller.tenant_id, job_id=job_id, after_seq=after_seq), **options
    )

    async def lines() -> AsyncIterator[bytes]:
        import json

        async for event in call:
            data = _dict(event)
            data["state"] = _enum(data["state"], "JOB_STATE_") if event.kind == "state" else ""
            data["seq"] = event.seq
            if event.kind != "progress":
                data.pop("progress", None)
            yield (json.dumps(data, ensure_ascii=False) + "\n").encode()

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get("/{job_id}/report", response_class=HTMLResponse, summary="The job's evaluation report (one HTML page)")
async def report(job_id: JobId, caller: JobCaller, backends: BackendsDep, rid: RequestId) -> HTMLResponse:
    request = jobs_pb2.GetJobReportRequest(tenant_id=caller.tenant_id, job_id=job_id)
    reply = await backends.training.GetJobReport(request, **backends.call_options(rid))
    return HTMLResponse(reply.html)
