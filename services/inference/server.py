"""Wire the inference service: settings → encoder, registry → servicer → gRPC server."""

from __future__ import annotations

from salesai.inference.v1 import inference_pb2, inference_pb2_grpc

from models.encoder import BaseEncoder
from services.common.server import GrpcServer, Hosted, build_server
from services.inference.config import InferenceSettings
from services.inference.core import InferenceCore
from services.inference.servicer import InferenceServicer

SERVICE_NAME = inference_pb2.DESCRIPTOR.services_by_name["InferenceService"].full_name


def create_server(settings: InferenceSettings, *, encoder: BaseEncoder | None = None) -> tuple[GrpcServer, int]:
    """Build the service (``encoder`` lets tests share one already-loaded base model)."""
    core = InferenceCore(settings, encoder=encoder)
    hosted = Hosted(
        SERVICE_NAME, InferenceServicer(core), inference_pb2_grpc.add_InferenceServiceServicer_to_server, core.warm_up
    )
    grpc_server, port = build_server(settings, [hosted])
    grpc_server.on_stop.append(core.close)
    return grpc_server, port
