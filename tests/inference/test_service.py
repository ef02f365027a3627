"""The inference service over real gRPC on an ephemeral port, with the real base encoder, the shipped intent
and risk adapters, and a freshly trained adapter going through load → activate → unload."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from salesai.inference.v1 import inference_pb2, inference_pb2_grpc

from models.artifacts import ADAPTER_WEIGHTS, MANIFEST
from models.config import ModelSettings
from services.inference.config import InferenceSettings
from services.inference.core import InferenceCore
from services.inference.server import create_server

TEXTS = [
    "今年预算被冻结了，采购流程全部暂停，明年再说吧",
    "Could you send me the price list for 200 seats?",
    "这个 proposal 我们老板还在 review，等他签字",
]


Service = tuple[InferenceCore, inference_pb2_grpc.InferenceServiceStub]


@pytest.fixture
def service(encoder, secrets_env, migrated_url: str) -> Iterator[Service]:
    """The service on SQLite, then on a fresh PostgreSQL database (the registry is rows + folders)."""
    data = Path(secrets_env["SALESAI_DATA_DIR"])
    settings = InferenceSettings(
        port=0,
        data_dir=data,
        database_url=migrated_url,
        max_texts=8,
        max_text_chars=2000,
        models=ModelSettings(data_dir=data, database_url=migrated_url),
    )
    server, port = create_server(settings, encoder=encoder)
    server.start()
    core = server.hosted[0].servicer.core
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield core, inference_pb2_grpc.InferenceServiceStub(channel)
    server.stop(0)


def _classify(stub, texts, tasks=(), tenant="acme", explain=True):
    return stub.Classify(
        inference_pb2.ClassifyRequest(tenant_id=tenant, texts=texts, tasks=list(tasks), explain=explain), timeout=60
    )


def test_default_tasks_come_from_the_shipped_adapters(service) -> None:
    core, stub = service
    reply = _classify(stub, TEXTS)
    assert len(reply.results) == len(TEXTS)
    intents: list[str] = []
    for text, result in zip(TEXTS, reply.results, strict=True):
        intent, risk = result.predictions
        assert (intent.task, risk.task) == ("intent", "risk")
        assert intent.model_version == "pretrained-1"
        assert sum(intent.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
        assert risk.label in ("low", "medium", "high")
        for span in intent.evidence:
            assert text[span.start : span.end] == span.text
        intents.append(intent.label)
    assert intents == ["budget_freeze", "pricing_inquiry", "approval_pending"]
    versions = stub.ListModels(inference_pb2.ListModelsRequest(), timeout=10).versions
    assert {(v.task, v.version, v.state) for v in versions} == {
        ("intent", "pretrained-1", inference_pb2.MODEL_STATE_ACTIVE),
        ("risk", "pretrained-1", inference_pb2.MODEL_STATE_ACTIVE),
    }


def test_concurrent_calls_are_batched_and_answered_exactly(service) -> None:
    _, stub = service
    alone = [_classify(stub, [t], explain=False).results[0].predictions[0] for t in TEXTS]
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda i: _classify(stub, [TEXTS[i % 3]], explain=False), range(24)))
    for i, reply in enumerate(replies):
        got = reply.results[0].predictions[0]
        assert got.label == alone[i % 3].label
        assert got.confidence == pytest.approx(alone[i % 3].confidence, abs=1e-4)


@pytest.mark.parametrize(
    ("texts", "tasks", "code", "phrase"),
    [
        ([], (), grpc.StatusCode.INVALID_ARGUMENT, "at least one text"),
        (["hi"] * 9, (), grpc.StatusCode.INVALID_ARGUMENT, "at most 8 texts"),
        (["  "], (), grpc.StatusCode.INVALID_ARGUMENT, "texts[0] is empty"),
        (["x" * 2001], (), grpc.StatusCode.INVALID_ARGUMENT, "longer than 2000"),
        (["hello"], ("no_such_task",), grpc.StatusCode.NOT_FOUND, "no_such_task"),
    ],
)
def test_bad_requests_get_a_clear_status(service, texts, tasks, code, phrase) -> None:
    _, stub = service
    with pytest.raises(grpc.RpcError) as error:
        _classify(stub, texts, tasks)
    assert error.value.code() == code
    assert phrase in error.value.details()


def test_a_new_version_loads_activates_and_serves_its_tenant(service, small_artifact) -> None:
    core, stub = service
    core.registry.register(small_artifact.path, tenant_id="acme")
    loaded = stub.LoadModel(inference_pb2.LoadModelRequest(task="small_intent", version="v1", tenant_id="acme"))
    assert loaded.state == inference_pb2.MODEL_STATE_READY
    with pytest.raises(grpc.RpcError) as error:  # loaded is not serving yet
        _classify(stub, ["hi there"], ["small_intent"])
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    active = stub.ActivateModel(inference_pb2.ActivateModelRequest(task="small_intent", version="v1", tenant_id="acme"))
    assert active.state == inference_pb2.MODEL_STATE_ACTIVE and active.metrics["macro_f1"] > 0.5
    reply = _classify(stub, ["Please stop emailing me, unsubscribe"], ["small_intent", "intent"])
    small, intent = reply.results[0].predictions
    assert small.task == "small_intent" and small.label == "unsubscribe"
    assert intent.task == "intent"
    with pytest.raises(grpc.RpcError) as error:  # another tenant does not see acme's task
        _classify(stub, ["hello"], ["small_intent"], tenant="globex")
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as error:
        stub.UnloadModel(inference_pb2.UnloadModelRequest(task="small_intent", version="v1", tenant_id="acme"))
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_a_corrupt_version_is_refused_and_the_serving_one_keeps_serving(service, small_artifact, tmp_path) -> None:
    core, stub = service
    broken = tmp_path / "intent-broken"
    shutil.copytree(small_artifact.path, broken)
    manifest = json.loads((broken / MANIFEST).read_text())
    manifest["version"] = "v9"
    (broken / MANIFEST).write_text(json.dumps(manifest))
    weights = (broken / ADAPTER_WEIGHTS).read_bytes()
    (broken / ADAPTER_WEIGHTS).write_bytes(weights[: len(weights) // 3])
    core.registry.register(broken)
    with pytest.raises(grpc.RpcError) as error:
        stub.ActivateModel(inference_pb2.ActivateModelRequest(task="small_intent", version="v9"))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "corrupt adapter" in error.value.details()
    states = {v.version: v for v in stub.ListModels(inference_pb2.ListModelsRequest(task="small_intent")).versions}
    assert states["v9"].state == inference_pb2.MODEL_STATE_FAILED and "corrupt" in states["v9"].error
    assert _classify(stub, TEXTS[:1]).results[0].predictions[0].label == "budget_freeze"


def test_unknown_version_is_not_found(service) -> None:
    _, stub = service
    with pytest.raises(grpc.RpcError) as error:
        stub.LoadModel(inference_pb2.LoadModelRequest(task="intent", version="v404"))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
