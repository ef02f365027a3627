"""Build, start and stop a salesai gRPC server.

Every service's ``server.py`` describes what it hosts with :class:`Hosted` and calls
:func:`build_server`; :func:`serve` runs it until SIGTERM/SIGINT. Health is the stock
``grpc.health.v1`` servicer: NOT_SERVING until every hosted service has warmed up, then SERVING;
NOT_SERVING again as soon as shutdown begins. Reflection is on, so ``grpcurl`` works without protos.
Connection arguments (message limits, keepalive, max connection age) come from
:func:`services.common.channels.server_options`.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.common.channels import server_options
from services.common.interceptors import ServerInterceptor
from services.common.metrics import serve_metrics
from services.common.settings import GrpcServiceSettings

log = logging.getLogger("salesai.server")

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class Hosted:
    """One gRPC service to host: its full proto name, servicer, and generated ``add_..._to_server``."""

    name: str
    servicer: Any
    add_to_server: Callable[[Any, grpc.Server], None]
    warm_up: Callable[[], None] | None = None


@dataclass
class GrpcServer:
    """A bound (not yet started) server with its health state."""

    server: grpc.Server
    port: int
    health: health.HealthServicer
    hosted: Sequence[Hosted]
    on_stop: list[Callable[[], None]] = field(default_factory=list)

    def start(self) -> None:
        """Start accepting RPCs, warm every service up, then report SERVING."""
        self.server.start()
        for svc in self.hosted:
            if svc.warm_up is not None:
                svc.warm_up()
        self._set_all(SERVING)
        log.info("serving", extra={"port": self.port, "services": [s.name for s in self.hosted]})

    def stop(self, grace: float | None = None) -> None:
        """Report NOT_SERVING, refuse new RPCs, let in-flight ones finish within ``grace`` seconds."""
        self._set_all(NOT_SERVING)
        self.server.stop(grace).wait()
        for callback in self.on_stop:
            callback()
        log.info("stopped", extra={"port": self.port})

    def _set_all(self, status: int) -> None:
        self.health.set("", status)
        for svc in self.hosted:
            self.health.set(svc.name, status)


def build_server(settings: GrpcServiceSettings, hosted: Sequence[Hosted]) -> tuple[GrpcServer, int]:
    """Create the server, register services, health and reflection, and bind the port."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="rpc"),
        interceptors=[ServerInterceptor()],
        options=server_options(settings),
    )
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    for svc in hosted:
        svc.add_to_server(svc.servicer, server)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [svc.name for svc in hosted] + [health.SERVICE_NAME, reflection.SERVICE_NAME]
    reflection.enable_server_reflection(names, server)
    port = server.add_insecure_port(f"{settings.host}:{settings.port}")
    if port == 0:
        raise OSError(f"could not bind {settings.host}:{settings.port}")
    grpc_server = GrpcServer(server, port, health_servicer, hosted)
    grpc_server._set_all(NOT_SERVING)
    return grpc_server, port


def serve(settings: GrpcServiceSettings, create: Callable[[Any], tuple[GrpcServer, int]]) -> None:
    """Run a service until SIGTERM or SIGINT, then shut down gracefully.

    Prints one JSON line ``{"event": "ready", ...}`` on stdout once SERVING, so a supervisor
    (``salesai up``, tests) learns the ports even when they were chosen by the OS.
    """
    grpc_server, port = create(settings)
    metrics_port = None
    if settings.metrics_port is not None:
        metrics_port = serve_metrics(settings.host, settings.metrics_port)
    stopping = threading.Event()

    def _on_signal(signum: int, _frame: Any) -> None:
        log.info("shutdown requested", extra={"signal": signal.Signals(signum).name})
        stopping.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    grpc_server.start()
    ready = {"event": "ready", "port": port, "metrics_port": metrics_port}
    print(json.dumps(ready), flush=True, file=sys.stdout)
    stopping.wait()
    grpc_server.stop(settings.grace_seconds)
