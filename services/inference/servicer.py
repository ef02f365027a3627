"""gRPC ⇄ domain conversion for the inference service. No logic lives here."""

from __future__ import annotations

import grpc
from salesai.common.v1 import types_pb2
from salesai.inference.v1 import inference_pb2, inference_pb2_grpc

from models.runtime import Prediction
from services.inference.core import InferenceCore, VersionState

_STATES = {
    "registered": inference_pb2.MODEL_STATE_REGISTERED,
    "ready": inference_pb2.MODEL_STATE_READY,
    "active": inference_pb2.MODEL_STATE_ACTIVE,
    "failed": inference_pb2.MODEL_STATE_FAILED,
}


def prediction_to_pb(p: Prediction) -> types_pb2.Prediction:
    return types_pb2.Prediction(
        task=p.task,
        label=p.label,
        confidence=p.confidence,
        probabilities=p.probabilities,
        evidence=[types_pb2.EvidenceSpan(start=s.start, end=s.end, text=s.text, weight=s.weight) for s in p.evidence],
        model_version=p.model_version,
    )


def version_to_pb(v: VersionState) -> inference_pb2.ModelVersion:
    return inference_pb2.ModelVersion(
        task=v.info.task,
        version=v.info.version,
        tenant_id=v.info.tenant_id,
        state=_STATES[v.state],
        labels=v.info.labels,
        metrics={k: float(x) for k, x in v.info.metrics.items() if isinstance(x, int | float)},
        base_model_hash=v.info.base_model_hash,
        data_hash=v.info.data_hash,
        error=v.error,
    )


class InferenceServicer(inference_pb2_grpc.InferenceServiceServicer):
    def __init__(self, core: InferenceCore) -> None:
        self.core = core

    def Classify(
        self, request: inference_pb2.ClassifyRequest, context: grpc.ServicerContext
    ) -> inference_pb2.ClassifyResponse:
        results = self.core.classify(request.tenant_id, list(request.texts), list(request.tasks), request.explain)
        return inference_pb2.ClassifyResponse(
            results=[inference_pb2.TextPredictions(predictions=[prediction_to_pb(p) for p in row]) for row in results]
        )

    def ListModels(
        self, request: inference_pb2.ListModelsRequest, context: grpc.ServicerContext
    ) -> inference_pb2.ListModelsResponse:
        versions = self.core.list(request.task or None, request.tenant_id or None)
        return inference_pb2.ListModelsResponse(versions=[version_to_pb(v) for v in versions])

    def LoadModel(
        self, request: inference_pb2.LoadModelRequest, context: grpc.ServicerContext
    ) -> inference_pb2.ModelVersion:
        return version_to_pb(self.core.load(request.task, request.version, request.tenant_id))

    def ActivateModel(
        self, request: inference_pb2.ActivateModelRequest, context: grpc.ServicerContext
    ) -> inference_pb2.ModelVersion:
        return version_to_pb(self.core.activate(request.task, request.version, request.tenant_id))

    def UnloadModel(
        self, request: inference_pb2.UnloadModelRequest, context: grpc.ServicerContext
    ) -> inference_pb2.ModelVersion:
        return version_to_pb(self.core.unload(request.task, request.version, request.tenant_id))
