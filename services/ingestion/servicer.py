"""gRPC ⇄ domain conversion for the ingestion service. No logic lives here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from salesai.common.v1 import types_pb2
from salesai.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc

from services.common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.common.storage.models import Interaction
from services.ingestion.core import IngestCommand, IngestionCore


class IngestionServicer(ingestion_pb2_grpc.IngestionServiceServicer):
    def __init__(self, core: IngestionCore) -> None:
        self.core = core

    def Ingest(
        self, request: ingestion_pb2.IngestRequest, context: grpc.ServicerContext
    ) -> ingestion_pb2.IngestResponse:
        outcome = self.core.ingest(command_from_pb(request))
        return ingestion_pb2.IngestResponse(interaction=interaction_to_pb(outcome.interaction), created=outcome.created)

    def IngestBatch(
        self, request_iterator: Iterator[ingestion_pb2.IngestRequest], context: grpc.ServicerContext
    ) -> Iterator[ingestion_pb2.IngestResponse]:
        """A refused message gets its error in its own reply and the stream goes on; a service failure
        (e.g. ``Unavailable``) ends the stream, and the client resends from the first unanswered message."""
        for index, request in enumerate(request_iterator):
            try:
                reply = self.Ingest(request, context)
            except (InvalidArgument, NotFound, FailedPrecondition, PermissionDenied) as error:
                yield ingestion_pb2.IngestResponse(
                    index=index,
                    error=ingestion_pb2.ItemError(
                        code=error.grpc_code.name,
                        reason=error.reason,
                        message=error.message,
                        field=error.field or "",
                    ),
                )
                continue
            reply.index = index
            yield reply

    def Redact(
        self, request: ingestion_pb2.RedactRequest, context: grpc.ServicerContext
    ) -> ingestion_pb2.RedactResponse:
        result = self.core.redact(request.text, request.language)
        return ingestion_pb2.RedactResponse(
            redacted_text=result.text,
            language=result.language,
            entities=[entity_to_pb(e) for e in result.entities],
        )

    def GetInteraction(
        self, request: ingestion_pb2.GetInteractionRequest, context: grpc.ServicerContext
    ) -> types_pb2.Interaction:
        return interaction_to_pb(self.core.get(request.tenant_id, request.interaction_id))

    def RevealRaw(
        self, request: ingestion_pb2.RevealRawRequest, context: grpc.ServicerContext
    ) -> ingestion_pb2.RevealRawResponse:
        text, audit_id = self.core.reveal(
            request.tenant_id, request.interaction_id, request.actor, request.role, request.reason
        )
        return ingestion_pb2.RevealRawResponse(text=text, audit_id=audit_id)

    def ExportCustomer(
        self, request: ingestion_pb2.ExportCustomerRequest, context: grpc.ServicerContext
    ) -> ingestion_pb2.ExportCustomerResponse:
        rows = self.core.export_customer(request.tenant_id, request.customer_id)
        return ingestion_pb2.ExportCustomerResponse(interactions=[interaction_to_pb(r) for r in rows])

    def EraseCustomer(
        self, request: ingestion_pb2.EraseCustomerRequest, context: grpc.ServicerContext
    ) -> ingestion_pb2.EraseCustomerResponse:
        erased = self.core.erase_customer(request.tenant_id, request.customer_id, request.actor)
        return ingestion_pb2.EraseCustomerResponse(interactions_erased=erased)


def command_from_pb(request: ingestion_pb2.IngestRequest) -> IngestCommand:
    return IngestCommand(
        tenant_id=request.tenant_id,
        external_id=request.external_id,
        text=request.text,
        customer_id=request.customer_id,
        conversation_id=request.conversation_id,
        lead_id=request.lead_id,
        channel=request.channel,
        language=request.language,
        direction=request.direction,
        occurred_at=request.occurred_at.ToDatetime(UTC) if request.HasField("occurred_at") else None,
    )


def entity_to_pb(entity: object) -> types_pb2.Entity:
    return types_pb2.Entity(
        type=entity.type,  # type: ignore[attr-defined]
        start=entity.start,  # type: ignore[attr-defined]
        end=entity.end,  # type: ignore[attr-defined]
        score=entity.score,  # type: ignore[attr-defined]
        placeholder=entity.placeholder,  # type: ignore[attr-defined]
    )


def _timestamp(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return ts


def interaction_to_pb(row: Interaction) -> types_pb2.Interaction:
    return types_pb2.Interaction(
        id=row.id,
        tenant_id=row.tenant_id,
        external_id=row.external_id,
        customer_id=row.customer_id,
        conversation_id=row.conversation_id,
        lead_id=row.lead_id,
        channel=row.channel,
        direction=row.direction,
        redacted_text=row.redacted_text,
        language=row.language,
        entities=[types_pb2.Entity(**e) for e in row.entities],
        occurred_at=_timestamp(row.occurred_at),
        created_at=_timestamp(row.created_at),
    )
