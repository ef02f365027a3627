"""The suite's gRPC connection arguments, through real channels to real servers on ephemeral ports: round_robin
spreads one channel's calls over every address (pick_first does not), the gateway's and the training deploy's
channels are made that way, servers accept the clients' keepalive pings and age connections out."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from salesai.inference.v1 import inference_pb2, inference_pb2_grpc

from gateway.backends import Backends
from gateway.config import GatewaySettings
from services.common.channels import SERVICE_CONFIG, channel_options
from services.common.server import GrpcServer, Hosted, build_server
from services.common.settings import CommonSettings, GrpcServiceSettings
from training.jobs.deploy import deploy

WHOAMI = "salesai.test.v1.Whoami"
WHOAMI_METHOD = f"/{WHOAMI}/Get"
SERVING = health_pb2.HealthCheckResponse.SERVING


def _whoami(name: str) -> Hosted:
    """A service whose one method answers with the server's name and the caller's address (its connection)."""

    def reply(_request: bytes, context: grpc.ServicerContext) -> bytes:
        return json.dumps({"server": name, "peer": context.peer()}).encode()

    handler = grpc.method_handlers_generic_handler(WHOAMI, {"Get": grpc.unary_unary_rpc_method_handler(reply)})
    return Hosted(WHOAMI, handler, lambda h, server: server.add_generic_rpc_handlers((h,)))


def _start(hosted: Hosted, **settings: object) -> GrpcServer:
    server, _ = build_server(GrpcServiceSettings(host="127.0.0.1", port=0, **settings), [hosted])
    server.start()
    return server


@pytest.fixture
def two_servers() -> Iterator[tuple[GrpcServer, GrpcServer]]:
    servers = (_start(_whoami("a")), _start(_whoami("b")))
    yield servers
    for server in servers:
        server.stop(0)


def _both(servers: tuple[GrpcServer, GrpcServer]) -> str:
    """One target that resolves to both servers (what a headless Service's name does on Kubernetes)."""
    return "ipv4:" + ",".join(f"127.0.0.1:{s.port}" for s in servers)


def _who(channel: grpc.Channel) -> dict[str, str]:
    return json.loads(channel.unary_unary(WHOAMI_METHOD)(b"", timeout=5))


def _when_both_connected(call: object, limit: float = 5.0) -> None:
    """round_robin reports READY once one address is: call until both have answered, so counts that follow are
    round_robin's steady state, not the connection race."""
    seen: set[str] = set()
    deadline = time.monotonic() + limit
    while seen != {"a", "b"} and time.monotonic() < deadline:
        seen.add(call()["server"])  # type: ignore[operator]
    assert seen == {"a", "b"}, f"only {seen} answered within {limit} s"


def test_the_options_ask_for_round_robin_keepalive_and_the_message_limits() -> None:
    options = dict(channel_options(CommonSettings.model_construct(grpc_client_max_message_bytes=4096)))
    assert json.loads(options["grpc.service_config"]) == SERVICE_CONFIG
    assert SERVICE_CONFIG["loadBalancingConfig"] == [{"round_robin": {}}]
    assert options["grpc.keepalive_time_ms"] == 30_000
    assert options["grpc.keepalive_permit_without_calls"] == 1
    assert options["grpc.max_receive_message_length"] == options["grpc.max_send_message_length"] == 4096
    assert channel_options(None) == channel_options(CommonSettings.model_construct())


@pytest.mark.parametrize("target", ["127.0.0.1:{port}", "dns:///127.0.0.1:{port}", "ipv4:127.0.0.1:{port}"])
def test_a_health_check_goes_through_a_channel_with_the_options(target: str) -> None:
    server = _start(_whoami("a"))
    try:
        with grpc.insecure_channel(target.format(port=server.port), options=channel_options()) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == SERVING
    finally:
        server.stop(0)


def test_round_robin_spreads_the_calls_of_one_channel_over_both_servers(
    two_servers: tuple[GrpcServer, GrpcServer],
) -> None:
    with grpc.insecure_channel(_both(two_servers), options=channel_options()) as channel:
        _when_both_connected(lambda: _who(channel))
        counts = Counter(_who(channel)["server"] for _ in range(20))
    assert counts["a"] >= 5 and counts["b"] >= 5, counts


def test_pick_first_the_grpc_default_sends_every_call_to_one_server(
    two_servers: tuple[GrpcServer, GrpcServer],
) -> None:
    """The control: what the channels did before, and why a scaled-out backend gained nothing."""
    with grpc.insecure_channel(_both(two_servers)) as channel:
        counts = Counter(_who(channel)["server"] for _ in range(20))
    assert len(counts) == 1, counts


def test_the_gateway_backends_use_the_options(two_servers: tuple[GrpcServer, GrpcServer]) -> None:
    settings = GatewaySettings(
        ingestion_url=_both(two_servers),
        inference_url=f"dns:///127.0.0.1:{two_servers[0].port}",
        training_url=f"127.0.0.1:{two_servers[1].port}",
        leads_url=_both(two_servers),
        readiness_timeout_seconds=5,
    )

    async def run() -> tuple[dict[str, str], Counter[str]]:
        backends = Backends.connect(settings)
        try:
            health = await backends.health()
            call = backends.channels["ingestion"].unary_unary(WHOAMI_METHOD)
            seen: set[str] = set()
            for _ in range(200):  # until both addresses are connected (see _when_both_connected)
                seen.add(json.loads(await call(b"", timeout=5))["server"])
                if seen == {"a", "b"}:
                    break
            counts = Counter([json.loads(await call(b"", timeout=5))["server"] for _ in range(20)])
            return health, counts
        finally:
            await backends.close()

    health, counts = asyncio.run(run())
    assert health == dict.fromkeys(("ingestion", "inference", "training", "leads"), "SERVING")
    assert counts["a"] >= 5 and counts["b"] >= 5, counts


class _Inference(inference_pb2_grpc.InferenceServiceServicer):
    """Just the three calls of a deploy, counted (the real inference service needs the base model)."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def _count(self) -> None:
        with self.lock:
            self.calls += 1

    def LoadModel(self, request, context):  # noqa: N802, ANN001, ANN201 - generated method names
        self._count()
        time.sleep(0.02)  # a load takes time: the other address connects meanwhile
        return inference_pb2.ModelVersion(task=request.task, version=request.version)

    def GetTraffic(self, request, context):  # noqa: N802, ANN001, ANN201
        self._count()
        return inference_pb2.TrafficState()

    def SetTraffic(self, request, context):  # noqa: N802, ANN001, ANN201
        self._count()
        return inference_pb2.TrafficState()


def test_the_training_deploy_uses_the_options() -> None:
    fakes = (_Inference(), _Inference())
    name = "salesai.inference.v1.InferenceService"
    add = inference_pb2_grpc.add_InferenceServiceServicer_to_server
    servers = [_start(Hosted(name, fake, add)) for fake in fakes]
    try:
        target = "ipv4:" + ",".join(f"127.0.0.1:{s.port}" for s in servers)
        for _ in range(8):
            result, phases = deploy(
                target, mode="canary", task="intent", version="v2", tenant_id="", canary_percent=10,
                actor="test", timeout=5, settings=CommonSettings.model_construct(),
            )  # fmt: skip
            assert result["done"], result
            assert set(phases) == {"load", "canary"}
    finally:
        for server in servers:
            server.stop(0)
    assert fakes[0].calls + fakes[1].calls == 8 * 3
    assert fakes[0].calls and fakes[1].calls, [f.calls for f in fakes]


def test_a_connection_past_its_age_is_replaced_and_no_call_fails() -> None:
    server = _start(_whoami("a"), max_connection_age_seconds=0.3)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}", options=channel_options()) as channel:
            peers = set()
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                peers.add(_who(channel)["peer"])  # raises on any failed call
                time.sleep(0.02)
    finally:
        server.stop(0)
    assert len(peers) >= 2, "the server closed no connection: the client never reconnected"


def _plain_server(hosted: Hosted) -> tuple[grpc.Server, int]:
    """A server with gRPC's default arguments: pings without calls refused, at most one per 5 minutes."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    hosted.add_to_server(hosted.servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


@pytest.mark.slow
def test_the_server_accepts_the_clients_keepalive_pings_on_an_idle_connection() -> None:
    """Pings every second for 3.5 s with no call in flight. The server with gRPC's default arguments answers the
    third with GOAWAY too_many_pings and the connection is replaced, which the peer address shows; ours keeps it."""
    tuned = CommonSettings.model_construct(grpc_keepalive_seconds=1.0)
    ours = _start(_whoami("a"), max_connection_age_seconds=0, grpc_keepalive_seconds=1.0)
    plain, plain_port = _plain_server(_whoami("plain"))
    options = channel_options(tuned)
    try:
        with (
            grpc.insecure_channel(f"127.0.0.1:{ours.port}", options=options) as channel,
            grpc.insecure_channel(f"127.0.0.1:{plain_port}", options=options) as control,
        ):
            first, control_first = _who(channel)["peer"], _who(control)["peer"]
            time.sleep(3.5)
            assert _who(channel)["peer"] == first
            assert _who(control)["peer"] != control_first, "the control server allowed the pings: test proves nothing"
    finally:
        ours.stop(0)
        plain.stop(0)
