"""gRPC clients of the backing services (async channels, one per service, shared by all requests)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from salesai.inference.v1 import inference_pb2_grpc
from salesai.ingestion.v1 import ingestion_pb2_grpc
from salesai.scoring.v1 import scoring_pb2_grpc
from salesai.suggestions.v1 import suggestions_pb2_grpc
from salesai.training.v1 import jobs_pb2_grpc

from gateway.config import GatewaySettings
from services.common.channels import channel_options


@dataclass
class Backends:
    settings: GatewaySettings
    channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)

    @classmethod
    def connect(cls, settings: GatewaySettings) -> Backends:
        """One channel per service; each spreads its calls over every address the URL resolves to."""
        backends = cls(settings)
        options = channel_options(settings)
        urls = {
            "ingestion": settings.ingestion_url,
            "inference": settings.inference_url,
            "training": settings.training_url,
            "leads": settings.leads_url,
        }
        for name, url in urls.items():
            backends.channels[name] = grpc.aio.insecure_channel(url, options=options)
        return backends

    @property
    def ingestion(self) -> ingestion_pb2_grpc.IngestionServiceStub:
        return ingestion_pb2_grpc.IngestionServiceStub(self.channels["ingestion"])

    @property
    def inference(self) -> inference_pb2_grpc.InferenceServiceStub:
        return inference_pb2_grpc.InferenceServiceStub(self.channels["inference"])

    @property
    def scoring(self) -> scoring_pb2_grpc.ScoringServiceStub:
        return scoring_pb2_grpc.ScoringServiceStub(self.channels["leads"])

    @property
    def suggestions(self) -> suggestions_pb2_grpc.SuggestionServiceStub:
        return suggestions_pb2_grpc.SuggestionServiceStub(self.channels["leads"])

    @property
    def training(self) -> jobs_pb2_grpc.TrainingJobsStub:
        return jobs_pb2_grpc.TrainingJobsStub(self.channels["training"])

    def call_options(self, request_id: str, *, slow: bool = False) -> dict[str, object]:
        """Deadline and request id for a call into a service (``slow``: model lifecycle steps that evaluate)."""
        timeout = self.settings.slow_deadline_seconds if slow else self.settings.deadline_seconds
        return {"timeout": timeout, "metadata": (("x-request-id", request_id),)}

    async def health(self) -> dict[str, str]:
        """Each backend's gRPC health status name (SERVING, NOT_SERVING, UNREACHABLE)."""
        names = list(self.channels)
        results = await asyncio.gather(*(self._check(self.channels[n]) for n in names))
        return dict(zip(names, results, strict=True))

    async def _check(self, channel: grpc.aio.Channel) -> str:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = await stub.Check(
                health_pb2.HealthCheckRequest(service=""), timeout=self.settings.readiness_timeout_seconds
            )
        except grpc.aio.AioRpcError:
            return "UNREACHABLE"
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

    async def close(self) -> None:
        await asyncio.gather(*(channel.close() for channel in self.channels.values()))
