"""The interceptor maps the domain error hierarchy to gRPC status codes with messages that say what to fix,
and turns anything unexpected into INTERNAL carrying only a request id — never the input."""

from __future__ import annotations

import grpc
import pytest
from salesai.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from sqlalchemy import text

from services.common.metrics import RPC_HANDLED
from services.common.server import GrpcServer

PII = "身份证 11010519491231002X 手机 13812345678"


def _ingest(**fields: object) -> ingestion_pb2.IngestRequest:
    base: dict[str, object] = {"tenant_id": "acme", "external_id": "e-1", "text": b"hello"}
    return ingestion_pb2.IngestRequest(**{**base, **fields})


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (_ingest(text=b"\xff\xfeabc"), grpc.StatusCode.INVALID_ARGUMENT, "not valid UTF-8 (bad byte at offset 0)"),
        (_ingest(text=b"x" * 5000), grpc.StatusCode.INVALID_ARGUMENT, "payload_too_large: text is 5000 bytes"),
        (_ingest(text=b"   "), grpc.StatusCode.INVALID_ARGUMENT, "text is empty"),
        (_ingest(tenant_id=""), grpc.StatusCode.INVALID_ARGUMENT, "tenant_id is required"),
        (_ingest(external_id=""), grpc.StatusCode.INVALID_ARGUMENT, "external_id is required"),
        (_ingest(customer_id="c" * 300), grpc.StatusCode.INVALID_ARGUMENT, "customer_id is longer than 200"),
        (_ingest(language="fr"), grpc.StatusCode.INVALID_ARGUMENT, "language must be one of auto, zh, en"),
    ],
    ids=["invalid-utf8", "too-large", "empty", "no-tenant", "no-external-id", "long-id", "bad-language"],
)
def test_bad_input_is_invalid_argument_with_a_helpful_message(
    channel: grpc.Channel, request_: ingestion_pb2.IngestRequest, code: grpc.StatusCode, message: str
) -> None:
    stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
    with pytest.raises(grpc.RpcError) as info:
        stub.Ingest(request_, timeout=10)
    assert info.value.code() == code
    assert message in info.value.details()


def test_unknown_id_is_not_found(channel: grpc.Channel) -> None:
    stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
    with pytest.raises(grpc.RpcError) as info:
        stub.GetInteraction(ingestion_pb2.GetInteractionRequest(tenant_id="acme", interaction_id="nope"), timeout=10)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert "interaction 'nope' not found" in info.value.details()


def test_other_tenants_records_are_not_found(channel: grpc.Channel) -> None:
    stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
    created = stub.Ingest(_ingest(), timeout=10).interaction
    request = ingestion_pb2.GetInteractionRequest(tenant_id="other", interaction_id=created.id)
    with pytest.raises(grpc.RpcError) as info:
        stub.GetInteraction(request, timeout=10)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_reveal_by_a_role_without_rights_is_permission_denied(channel: grpc.Channel) -> None:
    stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
    created = stub.Ingest(_ingest(text=PII.encode()), timeout=10).interaction
    request = ingestion_pb2.RevealRawRequest(
        tenant_id="acme", interaction_id=created.id, actor="k1", role="sales_rep", reason="audit check"
    )
    with pytest.raises(grpc.RpcError) as info:
        stub.RevealRaw(request, timeout=10)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "13812345678" not in info.value.details()


def test_unexpected_failure_is_internal_with_only_a_request_id(
    channel: grpc.Channel, ingestion_server: GrpcServer
) -> None:
    servicer = ingestion_server.hosted[0].servicer
    with servicer.core.db.engine.begin() as conn:
        conn.execute(text("DROP TABLE raw_texts"))
    stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
    with pytest.raises(grpc.RpcError) as info:
        stub.Ingest(_ingest(text=PII.encode()), timeout=10, metadata=(("x-request-id", "rid-123"),))
    assert info.value.code() == grpc.StatusCode.INTERNAL
    assert info.value.details() == "internal: internal error (request id rid-123)"


def test_request_id_is_echoed_and_metrics_count_codes(channel: grpc.Channel) -> None:
    before = RPC_HANDLED.labels("IngestionService", "Redact", "OK")._value.get()
    stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
    _reply, call = stub.Redact.with_call(
        ingestion_pb2.RedactRequest(text=b"hi"), timeout=10, metadata=(("x-request-id", "abc"),)
    )
    assert ("x-request-id", "abc") in tuple(call.initial_metadata())
    assert RPC_HANDLED.labels("IngestionService", "Redact", "OK")._value.get() == before + 1
