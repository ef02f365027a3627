"""Wire the inference service: settings → encoder, registry → servicer → gRPC server."""

from __future__ import annotations

from collections import defaultdict

from salesai.inference.v1 import inference_pb2, inference_pb2_grpc

from models.encoder import BaseEncoder
from services.common.server import GrpcServer, Hosted, build_server
from services.inference.config import InferenceSettings
from services.inference.core import WARM_UP_TEXTS, InferenceCore
from services.inference.servicer import InferenceServicer

SERVICE_NAME = inference_pb2.DESCRIPTOR.services_by_name["InferenceService"].full_name

#: from a few words to past the token limit, alone and packed, as /v1/analyze sends them (current + recent)
_LONG = "，".join(WARM_UP_TEXTS) * 12
WARM_UP_SHAPES = ([_LONG[:600]], [_LONG[:12], _LONG[:60], _LONG[:200], _LONG[:600]])


def warm_up(core: InferenceCore) -> None:
    """Before SERVING: every active version once, then live-like shapes with each tenant's active tasks together
    (kernels compiled, heap grown to its working size; the batcher trims what is left free when idle)."""
    core.warm_up()
    tasks: defaultdict[str, list[str]] = defaultdict(list)
    for version in core.versions():
        if version.state == "active":
            tasks[version.info.tenant_id].append(version.info.task)
    limits = core.settings
    for tenant_id, names in tasks.items():
        for texts in WARM_UP_SHAPES:
            core.classify(tenant_id, [t[: limits.max_text_chars] for t in texts[: limits.max_texts]], names)


def create_server(settings: InferenceSettings, *, encoder: BaseEncoder | None = None) -> tuple[GrpcServer, int]:
    """Build the service (``encoder`` lets tests share one already-loaded base model)."""
    core = InferenceCore(settings, encoder=encoder)
    hosted = Hosted(
        SERVICE_NAME,
        InferenceServicer(core),
        inference_pb2_grpc.add_InferenceServiceServicer_to_server,
        lambda: warm_up(core),
    )
    grpc_server, port = build_server(settings, [hosted])
    grpc_server.on_stop.append(core.close)
    return grpc_server, port
