"""Ingestion endpoints: store, read, redact, reveal, export and erase customer messages."""

from __future__ import annotations

import logging
from typing import Annotated

import grpc
from fastapi import APIRouter, Path, status
from salesai.ingestion.v1 import ingestion_pb2
from salesai.scoring.v1 import scoring_pb2
from salesai.training.v1 import jobs_pb2

from gateway.auth import Caller
from gateway.backends import Backends
from gateway.deps import AnyCaller, BackendsDep, CrmCaller, ReaderCaller, RequestId
from gateway.schemas import (
    EntityPublic,
    ErasePublic,
    ExportPublic,
    IngestPublic,
    InteractionCreate,
    InteractionPublic,
    RedactCreate,
    RedactPublic,
    RevealCreate,
    RevealPublic,
)

router = APIRouter(prefix="/v1", tags=["interactions"])
log = logging.getLogger("salesai.gateway")

# One Path() per parameter: FastAPI binds a shared FieldInfo to the first parameter name it sees.
InteractionId = Annotated[str, Path(min_length=1, max_length=200)]
CustomerId = Annotated[str, Path(min_length=1, max_length=200)]


@router.post(
    "/interactions",
    status_code=status.HTTP_201_CREATED,
    response_model=IngestPublic,
    summary="Redact and store a customer message (idempotent on external_id)",
)
async def ingest(body: InteractionCreate, caller: CrmCaller, backends: BackendsDep, rid: RequestId) -> IngestPublic:
    request = body.to_pb(caller.tenant_id)
    reply = await backends.ingestion.Ingest(request, **backends.call_options(rid))
    return IngestPublic(interaction=InteractionPublic.from_pb(reply.interaction), created=reply.created)


@router.get("/interactions/{interaction_id}", response_model=InteractionPublic, summary="A stored (redacted) message")
async def get_interaction(
    caller: ReaderCaller, backends: BackendsDep, rid: RequestId, interaction_id: InteractionId
) -> InteractionPublic:
    request = ingestion_pb2.GetInteractionRequest(tenant_id=caller.tenant_id, interaction_id=interaction_id)
    return InteractionPublic.from_pb(await backends.ingestion.GetInteraction(request, **backends.call_options(rid)))


@router.post("/redact", response_model=RedactPublic, summary="Redact a text without storing anything")
async def redact(body: RedactCreate, _caller: AnyCaller, backends: BackendsDep, rid: RequestId) -> RedactPublic:
    request = ingestion_pb2.RedactRequest(text=body.text.encode(), language=body.language)
    reply = await backends.ingestion.Redact(request, **backends.call_options(rid))
    entities = [EntityPublic.from_pb(e) for e in reply.entities]
    return RedactPublic(redacted_text=reply.redacted_text, language=reply.language, entities=entities)


@router.post(
    "/interactions/{interaction_id}/reveal",
    response_model=RevealPublic,
    summary="Decrypt the raw text (authorised roles only; always audited)",
)
async def reveal(
    body: RevealCreate, caller: AnyCaller, backends: BackendsDep, rid: RequestId, interaction_id: InteractionId
) -> RevealPublic:
    request = ingestion_pb2.RevealRawRequest(
        tenant_id=caller.tenant_id,
        interaction_id=interaction_id,
        actor=caller.key_id,
        role=caller.role.value,
        reason=body.reason,
    )
    reply = await backends.ingestion.RevealRaw(request, **backends.call_options(rid))
    return RevealPublic(text=reply.text, audit_id=reply.audit_id)


@router.get(
    "/customers/{customer_id}/export",
    response_model=ExportPublic,
    summary="Every stored message of a customer (data portability)",
)
async def export_customer(
    caller: CrmCaller, backends: BackendsDep, rid: RequestId, customer_id: CustomerId
) -> ExportPublic:
    request = ingestion_pb2.ExportCustomerRequest(tenant_id=caller.tenant_id, customer_id=customer_id)
    reply = await backends.ingestion.ExportCustomer(request, **backends.call_options(rid))
    return ExportPublic(
        customer_id=customer_id, interactions=[InteractionPublic.from_pb(i) for i in reply.interactions]
    )


@router.delete(
    "/customers/{customer_id}",
    response_model=ErasePublic,
    summary="Erase a customer: raw, master and every derived record and vector",
)
async def erase_customer(
    caller: CrmCaller, backends: BackendsDep, rid: RequestId, customer_id: CustomerId
) -> ErasePublic:
    # the leads and training services first: they find the customer's vectors and training-file rows through the
    # interactions (and workbench items) that ingestion then deletes
    derived, pending = await _erase_derived(backends, caller, customer_id, rid)
    request = ingestion_pb2.EraseCustomerRequest(
        tenant_id=caller.tenant_id, customer_id=customer_id, actor=caller.key_id
    )
    reply = await backends.ingestion.EraseCustomer(request, **backends.call_options(rid))
    return ErasePublic(
        customer_id=customer_id,
        interactions_erased=reply.interactions_erased,
        derived_erased=derived,
        pending=pending,
    )


async def _erase_derived(
    backends: Backends, caller: Caller, customer_id: str, rid: str
) -> tuple[dict[str, int], list[str]]:
    """Each service's part of the erasure; one that is unreachable is named in ``pending`` (it catches up on start)."""
    ids = {"tenant_id": caller.tenant_id, "customer_id": customer_id, "actor": caller.key_id}
    parts = (  # (store, service, call, request, slow: the training service reads and rewrites files)
        ("similar_index", "leads", backends.scoring.EraseCustomer, scoring_pb2.EraseCustomerRequest(**ids), False),
        ("training_files", "training", backends.training.EraseCustomer, jobs_pb2.EraseCustomerRequest(**ids), True),
    )
    derived: dict[str, int] = {}
    pending: list[str] = []
    for store, service, erase, request, slow in parts:
        try:
            reply = await erase(request, **backends.call_options(rid, slow=slow))
        except grpc.aio.AioRpcError as err:
            if err.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNIMPLEMENTED):
                raise
            log.warning("erasure: the %s service is unreachable; it catches up when it next starts", service)
            pending.append(store)
            continue
        derived.update(reply.erased)
        if reply.erased.get("unreadable_folders"):  # a corrupt file there: cut when the service next starts
            pending.append(store)
    return derived, pending
