"""Model management (roles ml_engineer and admin): versions, load/unload, canary and shadow traffic, gated
promotion, rollback. Every call is audited by the inference service with the caller's key id as actor.

``scope=tenant`` (default) manages the caller's own tenant versions; ``scope=global`` manages the versions every
tenant falls back to, and needs the admin role.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from google.protobuf.json_format import MessageToDict
from salesai.inference.v1 import inference_pb2

from gateway.auth import Caller
from gateway.deps import BackendsDep, ModelCaller, RequestId
from gateway.schemas import (
    ModelListPublic,
    ModelVersionPublic,
    PromoteCreate,
    PromotePublic,
    TrafficPublic,
    TrafficUpdate,
)
from services.common.errors import PermissionDenied
from services.common.roles import Role

router = APIRouter(prefix="/v1/models", tags=["models"])

Task = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,62}$", description="Task name, e.g. intent.")]
Version = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[\w.-]+$")]
Scope = Annotated[Literal["tenant", "global"], Query(description="tenant: your versions; global: everyone's (admin).")]


def _tenant(caller: Caller, scope: str) -> str:
    if scope == "global":
        if caller.role is not Role.ADMIN:
            raise PermissionDenied("only the admin role may manage global model versions")
        return ""
    return caller.tenant_id


def _actor(caller: Caller) -> str:
    return f"key:{caller.key_id} ({caller.role.value})"


def version_public(v: inference_pb2.ModelVersion) -> ModelVersionPublic:
    return ModelVersionPublic(
        task=v.task,
        version=v.version,
        tenant_id=v.tenant_id,
        state=inference_pb2.ModelState.Name(v.state).removeprefix("MODEL_STATE_").lower(),
        labels=list(v.labels),
        metrics=dict(v.metrics),
        base_model_hash=v.base_model_hash,
        data_hash=v.data_hash,
        error=v.error,
    )


def traffic_public(t: inference_pb2.TrafficState) -> TrafficPublic:
    return TrafficPublic.model_validate(
        MessageToDict(t, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    )


@router.get("", response_model=ModelListPublic, summary="Task versions visible to you: yours and the global ones")
async def list_models(
    caller: ModelCaller, backends: BackendsDep, rid: RequestId, task: str = Query("", max_length=64)
) -> ModelListPublic:
    options = backends.call_options(rid)
    own = await backends.inference.ListModels(
        inference_pb2.ListModelsRequest(task=task, tenant_id=caller.tenant_id), **options
    )
    shared = await backends.inference.ListModels(inference_pb2.ListModelsRequest(task=task, tenant_id=""), **options)
    return ModelListPublic(versions=[version_public(v) for v in [*shared.versions, *own.versions]])


@router.post("/{task}/versions/{version}/load", response_model=ModelVersionPublic, summary="Load and check a version")
async def load(
    task: Task, version: Version, caller: ModelCaller, backends: BackendsDep, rid: RequestId, scope: Scope = "tenant"
) -> ModelVersionPublic:
    request = inference_pb2.LoadModelRequest(
        task=task, version=version, tenant_id=_tenant(caller, scope), actor=_actor(caller)
    )
    return version_public(await backends.inference.LoadModel(request, **backends.call_options(rid, slow=True)))


@router.post("/{task}/versions/{version}/unload", response_model=ModelVersionPublic, summary="Drain and unload")
async def unload(
    task: Task, version: Version, caller: ModelCaller, backends: BackendsDep, rid: RequestId, scope: Scope = "tenant"
) -> ModelVersionPublic:
    request = inference_pb2.UnloadModelRequest(
        task=task, version=version, tenant_id=_tenant(caller, scope), actor=_actor(caller)
    )
    return version_public(await backends.inference.UnloadModel(request, **backends.call_options(rid, slow=True)))


@router.post(
    "/{task}/versions/{version}/promote",
    response_model=PromotePublic,
    summary="Make a version stable if it is no worse than the serving one on the test split",
)
async def promote(
    task: Task,
    version: Version,
    body: PromoteCreate,
    caller: ModelCaller,
    backends: BackendsDep,
    rid: RequestId,
    scope: Scope = "tenant",
) -> PromotePublic:
    request = inference_pb2.PromoteModelRequest(
        task=task,
        version=version,
        tenant_id=_tenant(caller, scope),
        force=body.force,
        reason=body.reason,
        actor=_actor(caller),
    )
    reply = await backends.inference.PromoteModel(request, **backends.call_options(rid, slow=True))
    gate = MessageToDict(reply.gate, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    return PromotePublic(traffic=traffic_public(reply.traffic), gate=gate)


@router.get("/{task}/traffic", response_model=TrafficPublic, summary="Stable, canary and shadow versions")
async def get_traffic(
    task: Task, caller: ModelCaller, backends: BackendsDep, rid: RequestId, scope: Scope = "tenant"
) -> TrafficPublic:
    request = inference_pb2.GetTrafficRequest(task=task, tenant_id=_tenant(caller, scope))
    return traffic_public(await backends.inference.GetTraffic(request, **backends.call_options(rid)))


@router.put("/{task}/traffic", response_model=TrafficPublic, summary="Set the canary percentage and the shadow")
async def set_traffic(
    task: Task,
    body: TrafficUpdate,
    caller: ModelCaller,
    backends: BackendsDep,
    rid: RequestId,
    scope: Scope = "tenant",
) -> TrafficPublic:
    request = inference_pb2.SetTrafficRequest(
        task=task,
        tenant_id=_tenant(caller, scope),
        canary_version=body.canary_version,
        canary_percent=body.canary_percent,
        shadow_version=body.shadow_version,
        actor=_actor(caller),
    )
    return traffic_public(await backends.inference.SetTraffic(request, **backends.call_options(rid, slow=True)))


@router.post("/{task}/rollback", response_model=TrafficPublic, summary="Re-activate the previous stable version")
async def rollback(
    task: Task, caller: ModelCaller, backends: BackendsDep, rid: RequestId, scope: Scope = "tenant"
) -> TrafficPublic:
    request = inference_pb2.RollbackModelRequest(task=task, tenant_id=_tenant(caller, scope), actor=_actor(caller))
    return traffic_public(await backends.inference.RollbackModel(request, **backends.call_options(rid)))
