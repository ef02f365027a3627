"""gRPC ⇄ domain conversion for the inference service. No logic lives here."""

from __future__ import annotations

import grpc
from salesai.common.v1 import types_pb2
from salesai.inference.v1 import inference_pb2, inference_pb2_grpc

from models.runtime import Prediction
from services.inference.core import Agreement, GateResult, InferenceCore, TrafficState, VersionState

_STATES = {
    "registered": inference_pb2.MODEL_STATE_REGISTERED,
    "ready": inference_pb2.MODEL_STATE_READY,
    "active": inference_pb2.MODEL_STATE_ACTIVE,
    "canary": inference_pb2.MODEL_STATE_CANARY,
    "shadow": inference_pb2.MODEL_STATE_SHADOW,
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


def agreement_to_pb(a: Agreement) -> inference_pb2.Agreement:
    return inference_pb2.Agreement(compared=a.compared, agreed=a.agreed, rate=a.rate)


def traffic_to_pb(t: TrafficState) -> inference_pb2.TrafficState:
    return inference_pb2.TrafficState(
        task=t.task,
        tenant_id=t.tenant_id,
        stable_version=t.route.stable or "",
        canary_version=t.route.canary or "",
        canary_percent=t.route.canary_percent,
        shadow_version=t.route.shadow or "",
        previous_version=t.route.previous or "",
        canary_agreement=agreement_to_pb(t.canary_agreement),
        shadow_agreement=agreement_to_pb(t.shadow_agreement),
    )


def gate_to_pb(g: GateResult) -> inference_pb2.GateResult:
    return inference_pb2.GateResult(
        passed=g.passed,
        forced=g.forced,
        candidate_macro_f1=g.candidate_macro_f1,
        serving_macro_f1=g.serving_macro_f1,
        margin=g.margin,
        test_examples=g.test_examples,
        detail=g.detail,
    )


def version_to_pb(v: VersionState) -> inference_pb2.ModelVersion:
    metrics = {k: float(x) for k, x in v.info.metrics.items() if isinstance(x, int | float)}
    if v.smoke_macro_f1 is not None:
        metrics["smoke_macro_f1"] = v.smoke_macro_f1
    return inference_pb2.ModelVersion(
        task=v.info.task,
        version=v.info.version,
        tenant_id=v.info.tenant_id,
        state=_STATES[v.state],
        labels=v.info.labels,
        metrics=metrics,
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
        results, embeddings = self.core.classify_and_embed(
            request.tenant_id,
            list(request.texts),
            list(request.tasks),
            request.explain,
            request.conversation_id,
            embed=request.embed,
        )
        reply = inference_pb2.ClassifyResponse(
            results=[inference_pb2.TextPredictions(predictions=[prediction_to_pb(p) for p in row]) for row in results]
        )
        for row, embedding in zip(reply.results, embeddings, strict=False):
            row.embedding.values.extend(embedding.values)
            row.embedding.model = embedding.model
        return reply

    def ListModels(
        self, request: inference_pb2.ListModelsRequest, context: grpc.ServicerContext
    ) -> inference_pb2.ListModelsResponse:
        versions = self.core.versions(request.task or None, None if request.all_tenants else request.tenant_id)
        return inference_pb2.ListModelsResponse(versions=[version_to_pb(v) for v in versions])

    def LoadModel(
        self, request: inference_pb2.LoadModelRequest, context: grpc.ServicerContext
    ) -> inference_pb2.ModelVersion:
        return version_to_pb(self.core.load(request.task, request.version, request.tenant_id, request.actor))

    def ActivateModel(
        self, request: inference_pb2.ActivateModelRequest, context: grpc.ServicerContext
    ) -> inference_pb2.ModelVersion:
        return version_to_pb(self.core.activate(request.task, request.version, request.tenant_id, request.actor))

    def UnloadModel(
        self, request: inference_pb2.UnloadModelRequest, context: grpc.ServicerContext
    ) -> inference_pb2.ModelVersion:
        return version_to_pb(self.core.unload(request.task, request.version, request.tenant_id, request.actor))

    def SetTraffic(
        self, request: inference_pb2.SetTrafficRequest, context: grpc.ServicerContext
    ) -> inference_pb2.TrafficState:
        state = self.core.set_traffic(
            request.task,
            request.tenant_id,
            canary=request.canary_version or None,
            canary_percent=request.canary_percent,
            shadow=request.shadow_version or None,
            actor=request.actor,
        )
        return traffic_to_pb(state)

    def GetTraffic(
        self, request: inference_pb2.GetTrafficRequest, context: grpc.ServicerContext
    ) -> inference_pb2.TrafficState:
        return traffic_to_pb(self.core.traffic(request.task, request.tenant_id))

    def PromoteModel(
        self, request: inference_pb2.PromoteModelRequest, context: grpc.ServicerContext
    ) -> inference_pb2.PromoteModelResponse:
        traffic, gate = self.core.promote(
            request.task,
            request.version,
            request.tenant_id,
            force=request.force,
            actor=request.actor,
            reason=request.reason,
        )
        return inference_pb2.PromoteModelResponse(traffic=traffic_to_pb(traffic), gate=gate_to_pb(gate))

    def RollbackModel(
        self, request: inference_pb2.RollbackModelRequest, context: grpc.ServicerContext
    ) -> inference_pb2.TrafficState:
        return traffic_to_pb(self.core.rollback(request.task, request.tenant_id, request.actor))
