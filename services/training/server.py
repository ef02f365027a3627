"""Wire the training service: settings → job runner (store + scheduler) → servicer → gRPC server."""

from __future__ import annotations

from salesai.training.v1 import jobs_pb2, jobs_pb2_grpc

from services.common.server import GrpcServer, Hosted, build_server
from services.training.config import TrainingSettings
from services.training.servicer import TrainingJobsServicer
from training.jobs.runner import JobRunner

SERVICE_NAME = jobs_pb2.DESCRIPTOR.services_by_name["TrainingJobs"].full_name


def create_server(settings: TrainingSettings) -> tuple[GrpcServer, int]:
    """Build the service; the scheduler starts (and recovers jobs a dead worker left) once it is warm."""
    runner = JobRunner(settings)
    hosted = Hosted(
        SERVICE_NAME, TrainingJobsServicer(runner), jobs_pb2_grpc.add_TrainingJobsServicer_to_server, runner.start
    )
    grpc_server, port = build_server(settings, [hosted])
    grpc_server.on_stop.append(runner.close)
    return grpc_server, port
