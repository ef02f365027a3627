"""The gRPC connection arguments both ends of a salesai connection agree on.

:func:`channel_options` is what every client channel to a salesai service is opened with (the gateway's
backends, the training deploys); :func:`server_options` is what :func:`services.common.server.build_server`
gives every server. Together they make the suite scale out behind Kubernetes:

- **round_robin**: a channel keeps a connection to *every* address its target resolves to and spreads calls
  over them. gRPC's default, ``pick_first``, sends every call down one long-lived HTTP/2 connection, so behind a
  ClusterIP Service each client sticks to one pod. Spreading needs a name that resolves to every pod: a headless
  Service (``dns:///inference-headless.salesai.svc.cluster.local:50052``). A target without a scheme
  (``127.0.0.1:50052``, ``inference:50052``) goes through the same DNS resolver, so local and compose
  addresses behave as before.
- **max connection age** (server side): each connection is closed gracefully (GOAWAY) after a while, so clients
  re-resolve the name and connect to the pods added since; calls in flight finish on the old connection.
- **keepalive**: clients ping idle connections, so one to a pod that vanished without closing it (a node
  failure) is dropped within seconds instead of failing the next call at its deadline; servers allow those
  pings (without that permission a server answers frequent pings with GOAWAY ``too_many_pings``).
"""

from __future__ import annotations

import json
from typing import Any

from services.common.settings import CommonSettings, GrpcServiceSettings

ChannelOptions = list[tuple[str, Any]]

#: the default service config of every client channel: spread calls over every resolved address
SERVICE_CONFIG: dict[str, Any] = {"loadBalancingConfig": [{"round_robin": {}}]}


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def channel_options(settings: CommonSettings | None = None) -> ChannelOptions:
    """Options of a client channel to a salesai service (``settings``: the calling process's; None: defaults)."""
    s = settings if settings is not None else CommonSettings.model_construct()
    return [
        ("grpc.service_config", json.dumps(SERVICE_CONFIG)),
        ("grpc.keepalive_time_ms", _ms(s.grpc_keepalive_seconds)),
        ("grpc.keepalive_timeout_ms", _ms(s.grpc_keepalive_timeout_seconds)),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),  # keep pinging an idle connection, not just twice
        ("grpc.max_receive_message_length", s.grpc_client_max_message_bytes),
        ("grpc.max_send_message_length", s.grpc_client_max_message_bytes),
    ]


def server_options(settings: GrpcServiceSettings) -> ChannelOptions:
    """Options of a salesai gRPC server: message limits, the clients' keepalive pings, connection age."""
    options: ChannelOptions = [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.so_reuseport", 0),
        ("grpc.keepalive_permit_without_calls", 1),
        # half the clients' interval: a ping that arrives a little early is no strike
        ("grpc.http2.min_ping_interval_without_data_ms", _ms(settings.grpc_keepalive_seconds / 2)),
    ]
    if settings.max_connection_age_seconds > 0:
        options.append(("grpc.max_connection_age_ms", _ms(settings.max_connection_age_seconds)))
        if settings.max_connection_age_grace_seconds is not None:
            options.append(("grpc.max_connection_age_grace_ms", _ms(settings.max_connection_age_grace_seconds)))
    return options
