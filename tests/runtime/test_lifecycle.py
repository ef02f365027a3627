"""Health (SERVING only after warm-up), reflection, and graceful shutdown that finishes in-flight calls."""

from __future__ import annotations

import queue
import threading

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from salesai.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc

from services.common.server import GrpcServer, Hosted, build_server
from services.ingestion.config import IngestionSettings
from services.ingestion.redaction import Redactor
from services.ingestion.server import SERVICE_NAME, create_core
from services.ingestion.servicer import IngestionServicer


def _status(channel: grpc.Channel, service: str = "") -> int:
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    return reply.status


def test_not_serving_until_warm_up_completes(ingestion_settings: IngestionSettings, fast_redactor: Redactor) -> None:
    release = threading.Event()
    core = create_core(ingestion_settings, fast_redactor)
    hosted = Hosted(
        SERVICE_NAME,
        IngestionServicer(core),
        ingestion_pb2_grpc.add_IngestionServiceServicer_to_server,
        warm_up=lambda: release.wait(10),
    )
    server, port = build_server(ingestion_settings, [hosted])
    starter = threading.Thread(target=server.start)
    starter.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=10)
            assert _status(channel) == health_pb2.HealthCheckResponse.NOT_SERVING
            assert _status(channel, SERVICE_NAME) == health_pb2.HealthCheckResponse.NOT_SERVING
            release.set()
            starter.join(10)
            assert _status(channel) == health_pb2.HealthCheckResponse.SERVING
            assert _status(channel, SERVICE_NAME) == health_pb2.HealthCheckResponse.SERVING
    finally:
        release.set()
        server.stop(0)


def test_reflection_lists_every_hosted_service(channel: grpc.Channel) -> None:
    services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert {SERVICE_NAME, "grpc.health.v1.Health"} <= services


def test_shutdown_lets_an_in_flight_stream_finish(ingestion_server: GrpcServer, channel: grpc.Channel) -> None:
    requests: queue.Queue[ingestion_pb2.IngestRequest | None] = queue.Queue()

    def feed():
        while (item := requests.get()) is not None:
            yield item

    stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
    responses = stub.IngestBatch(feed(), timeout=30)
    request = lambda i: ingestion_pb2.IngestRequest(  # noqa: E731
        tenant_id="acme", external_id=f"e{i}", text=f"第{i}条消息，手机1381234567{i}".encode()
    )
    requests.put(request(0))
    assert next(responses).created
    stopper = threading.Thread(target=ingestion_server.stop, args=(5,))
    stopper.start()
    with pytest.raises(grpc.RpcError) as refused:  # new calls are refused while draining
        for _ in range(50):
            ingestion_pb2_grpc.IngestionServiceStub(channel).Redact(ingestion_pb2.RedactRequest(text=b"hi"), timeout=10)
            threading.Event().wait(0.05)
    # gRPC core refuses a call that races the shutdown with UNAVAILABLE or, when the call was already accepted
    # by the transport, with CANCELLED: both mean "not served, retry elsewhere".
    assert refused.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
    for i in range(1, 4):
        requests.put(request(i))
        reply = next(responses)
        assert reply.created and reply.interaction.external_id == f"e{i}"
    requests.put(None)
    assert list(responses) == []
    stopper.join(10)
    assert not stopper.is_alive()


@pytest.fixture
def unstarted(ingestion_settings: IngestionSettings, fast_redactor: Redactor):
    from services.ingestion.server import create_server

    server, port = create_server(ingestion_settings, redactor=fast_redactor)
    yield server, port
    server.stop(0)


def test_create_server_binds_an_ephemeral_port_without_serving(unstarted: tuple[GrpcServer, int]) -> None:
    server, port = unstarted
    assert port > 0 and server.port == port
