"""The training job service on an ephemeral port (its workers are real processes training the real base model),
an inference server beside it on the same database and registry, and small dataset files."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from salesai.inference.v1 import inference_pb2_grpc
from salesai.training.v1 import jobs_pb2, jobs_pb2_grpc

from models.config import ModelSettings
from services.common.server import GrpcServer
from services.inference.config import InferenceSettings
from services.inference.server import create_server as create_inference_server
from services.training.config import TrainingSettings
from services.training.server import create_server
from tests.conftest import small_examples
from training.data import write_examples

FINAL = {jobs_pb2.JOB_STATE_SUCCEEDED, jobs_pb2.JOB_STATE_FAILED, jobs_pb2.JOB_STATE_CANCELLED}


@pytest.fixture
def data_dir(secrets_env: dict[str, str]) -> Path:
    return Path(secrets_env["SALESAI_DATA_DIR"])


@pytest.fixture
def dataset(data_dir: Path) -> Path:
    """A small 4-label slice (40 train, 8 dev, 16 test) as a `salesai train` JSONL file, in the dataset folder."""
    path = data_dir / "datasets" / "small.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_examples(path, small_examples(per_label=12, test_per_label=4))
    return path


@pytest.fixture
def inference(migrated_url: str, data_dir: Path, encoder) -> Iterator[GrpcServer]:
    settings = InferenceSettings(
        port=0, database_url=migrated_url, data_dir=data_dir, models=ModelSettings(data_dir=data_dir),
        install_pretrained=False,
    )  # fmt: skip
    server, _ = create_inference_server(settings, encoder=encoder)
    server.start()
    yield server
    server.stop(0)


def training_settings(url: str, data_dir: Path, inference_port: int = 1, **overrides: object) -> TrainingSettings:
    models = ModelSettings(data_dir=data_dir, device="cpu", max_length=64, adapt_layers=4, torch_threads=2)
    return TrainingSettings(
        port=0,
        database_url=url,
        data_dir=data_dir,
        models=models,
        dataset_roots=[str(data_dir / "datasets")],
        inference_url=f"127.0.0.1:{inference_port}",
        poll_seconds=0.2,
        cancel_grace_seconds=2,
        **overrides,
    )


@pytest.fixture
def start_training(migrated_url: str, data_dir: Path) -> Iterator[Callable[..., jobs_pb2_grpc.TrainingJobsStub]]:
    """Start the training service (``inference_port`` to deploy into); stopped, with its workers, at the end."""
    servers: list[GrpcServer] = []
    channels: list[grpc.Channel] = []

    def start(inference_port: int = 1, **overrides: object) -> jobs_pb2_grpc.TrainingJobsStub:
        server, port = create_server(training_settings(migrated_url, data_dir, inference_port, **overrides))
        server.start()
        servers.append(server)
        channels.append(grpc.insecure_channel(f"127.0.0.1:{port}"))
        start.target = f"127.0.0.1:{port}"  # type: ignore[attr-defined]
        return jobs_pb2_grpc.TrainingJobsStub(channels[-1])

    yield start
    for server in servers:
        scheduler = server.hosted[0].servicer.runner.scheduler
        for job_id in list(scheduler.workers):
            scheduler.cancel(job_id)
        server.stop(0)
    for channel in channels:
        channel.close()


@pytest.fixture
def inference_stub(inference: GrpcServer) -> Iterator[inference_pb2_grpc.InferenceServiceStub]:
    with grpc.insecure_channel(f"127.0.0.1:{inference.port}") as channel:
        yield inference_pb2_grpc.InferenceServiceStub(channel)


def wait_for(stub: jobs_pb2_grpc.TrainingJobsStub, job_id: str, states: set[int], timeout: float = 240) -> jobs_pb2.Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = stub.GetJob(jobs_pb2.GetJobRequest(tenant_id="acme", job_id=job_id))
        if job.state in states:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {jobs_pb2.JobState.Name(job.state)}: {job.error}")


def submit(stub: jobs_pb2_grpc.TrainingJobsStub, dataset: Path, **fields: object) -> jobs_pb2.Job:
    params = fields.pop("params", jobs_pb2.HyperParameters(epochs=2, patience=2, batch_size=8))
    request = jobs_pb2.SubmitJobRequest(
        tenant_id="acme", task="small_intent", dataset_path=str(dataset), params=params, actor="test", **fields
    )
    return stub.SubmitJob(request, timeout=30)
