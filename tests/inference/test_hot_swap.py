"""Hot swap over real gRPC: sticky canary, shadow that is never returned, the promotion gate, forced promotion
(audited), instant rollback, draining unload — with the real encoder and real adapters."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from salesai.inference.v1 import inference_pb2, inference_pb2_grpc
from sqlalchemy import select

from models.artifacts import MANIFEST
from models.config import ModelSettings
from models.registry import PRETRAINED_DIR
from services.common.storage.models import AuditEvent
from services.inference.config import InferenceSettings
from services.inference.core import InferenceCore
from services.inference.server import create_server

Service = tuple[InferenceCore, inference_pb2_grpc.InferenceServiceStub]
PROBES = [
    "今年预算被冻结了，采购流程全部暂停",
    "Could you send me the price list for 200 seats?",
    "我们在比较你们和另外两家的方案",
    "Please remove me from your mailing list.",
    "Can we do a demo next Tuesday?",
    "合同我们这边法务还在审，下周给答复",
]


@pytest.fixture(scope="module")
def weak_intent(encoder, tmp_path_factory) -> Path:
    """A deliberately weak intent version: a linear head on 3 examples per label."""
    from models.tasks import default_tasks
    from training.data import Example, read_examples
    from training.linear import train_linear
    from training.seed import DATA_DIR

    rows = read_examples(DATA_DIR / "intent.jsonl")
    picked: list[Example] = []
    for label in default_tasks()["intent"].labels:
        train = [e for e in rows if e.label == label and e.split == "train"][:3]
        test = [e for e in rows if e.label == label and e.split == "test"][:4]
        picked += train + test
    out = tmp_path_factory.mktemp("weak") / "intent-v2"
    train_linear(encoder, default_tasks()["intent"], picked, out, version="v2")
    return out


def _copy_version(source: Path, target: Path, version: str) -> Path:
    shutil.copytree(source, target)
    manifest = json.loads((target / MANIFEST).read_text())
    manifest["version"] = version
    (target / MANIFEST).write_text(json.dumps(manifest))
    return target


@pytest.fixture
def service(encoder, secrets_env) -> Iterator[Service]:
    data = Path(secrets_env["SALESAI_DATA_DIR"])
    settings = InferenceSettings(port=0, data_dir=data, models=ModelSettings(data_dir=data), promotion_margin=0.02)
    server, port = create_server(settings, encoder=encoder)
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield server.hosted[0].servicer.core, inference_pb2_grpc.InferenceServiceStub(channel)
    server.stop(0)


def _intent(stub, text: str, conversation: str = "") -> inference_pb2.TextPredictions:
    reply = stub.Classify(
        inference_pb2.ClassifyRequest(tenant_id="acme", texts=[text], tasks=["intent"], conversation_id=conversation),
        timeout=30,
    )
    return reply.results[0].predictions[0]


def test_canary_is_sticky_per_conversation_and_measures_agreement(service, tmp_path) -> None:
    core, stub = service
    core.registry.register(_copy_version(PRETRAINED_DIR / "intent", tmp_path / "v2", "v2"))
    state = stub.SetTraffic(
        inference_pb2.SetTrafficRequest(task="intent", canary_version="v2", canary_percent=30, actor="ml@acme")
    )
    assert (state.stable_version, state.canary_version, state.canary_percent) == ("pretrained-1", "v2", 30)
    seen: dict[str, set[str]] = {}
    for i in range(80):
        conversation = f"conv-{i}"
        for _ in range(2):
            seen.setdefault(conversation, set()).add(_intent(stub, PROBES[i % 6], conversation).model_version)
    assert all(len(versions) == 1 for versions in seen.values())  # sticky
    on_canary = sum(versions == {"v2"} for versions in seen.values())
    assert 10 <= on_canary <= 40  # ~30% of 80 conversations
    traffic = stub.GetTraffic(inference_pb2.GetTrafficRequest(task="intent"))
    assert traffic.canary_agreement.compared == 2 * on_canary
    assert traffic.canary_agreement.rate == 1.0  # same weights: always agree
    states = {v.version: v.state for v in stub.ListModels(inference_pb2.ListModelsRequest(task="intent")).versions}
    assert states == {"pretrained-1": inference_pb2.MODEL_STATE_ACTIVE, "v2": inference_pb2.MODEL_STATE_CANARY}
    off = stub.SetTraffic(inference_pb2.SetTrafficRequest(task="intent"))
    assert off.canary_version == "" and off.canary_percent == 0
    assert {_intent(stub, PROBES[0], f"conv-{i}").model_version for i in range(20)} == {"pretrained-1"}


def test_shadow_runs_on_live_traffic_but_is_never_returned(service, weak_intent) -> None:
    core, stub = service
    core.registry.register(weak_intent)
    stub.SetTraffic(inference_pb2.SetTrafficRequest(task="intent", shadow_version="v2"))
    for text in PROBES:
        assert _intent(stub, text).model_version == "pretrained-1"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        traffic = stub.GetTraffic(inference_pb2.GetTrafficRequest(task="intent"))
        if traffic.shadow_agreement.compared >= len(PROBES) - 1:
            break
        time.sleep(0.1)
    assert traffic.shadow_version == "v2"
    assert traffic.shadow_agreement.compared >= len(PROBES) - 1  # a comparison may be skipped under load
    assert 0.0 <= traffic.shadow_agreement.rate <= 1.0


def test_gate_refuses_a_worse_model_force_is_audited_and_rollback_restores(service, weak_intent) -> None:
    core, stub = service
    before = [(_intent(stub, t).label, round(_intent(stub, t).confidence, 4)) for t in PROBES]
    core.registry.register(weak_intent)
    with pytest.raises(grpc.RpcError) as refused:
        stub.PromoteModel(inference_pb2.PromoteModelRequest(task="intent", version="v2", actor="ml@acme"))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "refused" in refused.value.details() and "macro-F1" in refused.value.details()
    assert _intent(stub, PROBES[0]).model_version == "pretrained-1"
    with pytest.raises(grpc.RpcError) as no_reason:
        stub.PromoteModel(inference_pb2.PromoteModelRequest(task="intent", version="v2", force=True))
    assert no_reason.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    forced = stub.PromoteModel(
        inference_pb2.PromoteModelRequest(task="intent", version="v2", force=True, actor="ml@acme", reason="test")
    )
    assert forced.gate.forced and not forced.gate.passed
    assert forced.gate.candidate_macro_f1 < forced.gate.serving_macro_f1
    assert (forced.traffic.stable_version, forced.traffic.previous_version) == ("v2", "pretrained-1")
    assert _intent(stub, PROBES[0]).model_version == "v2"

    rolled = stub.RollbackModel(inference_pb2.RollbackModelRequest(task="intent", actor="ml@acme"))
    assert rolled.stable_version == "pretrained-1"
    after = [(_intent(stub, t).label, round(_intent(stub, t).confidence, 4)) for t in PROBES]
    assert after == before
    with core.db.session() as session:
        actions = [(e.action, e.actor, e.outcome) for e in session.scalars(select(AuditEvent))]
    assert ("model.promote", "ml@acme", "refused") in actions
    assert ("model.promote.forced", "ml@acme", "allowed") in actions
    assert ("model.rollback", "ml@acme", "allowed") in actions


def test_an_equal_model_passes_the_gate_and_the_old_one_unloads(service, tmp_path) -> None:
    core, stub = service
    core.registry.register(_copy_version(PRETRAINED_DIR / "intent", tmp_path / "v3", "v3"))
    promoted = stub.PromoteModel(inference_pb2.PromoteModelRequest(task="intent", version="v3", actor="ml@acme"))
    assert promoted.gate.passed and not promoted.gate.forced and promoted.gate.test_examples == 410
    assert promoted.gate.candidate_macro_f1 == pytest.approx(promoted.gate.serving_macro_f1)
    assert _intent(stub, PROBES[1]).model_version == "v3"
    unloaded = stub.UnloadModel(inference_pb2.UnloadModelRequest(task="intent", version="pretrained-1"))
    assert unloaded.state == inference_pb2.MODEL_STATE_REGISTERED
    with pytest.raises(grpc.RpcError) as nothing:
        stub.RollbackModel(inference_pb2.RollbackModelRequest(task="intent"))
    assert nothing.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_traffic_requests_are_validated(service) -> None:
    _, stub = service
    cases = [
        (inference_pb2.SetTrafficRequest(task="intent", canary_version="pretrained-1", canary_percent=5), "INVALID"),
        (inference_pb2.SetTrafficRequest(task="intent", canary_version="v404", canary_percent=5), "NOT_FOUND"),
        (inference_pb2.SetTrafficRequest(task="intent", canary_version="x", canary_percent=101), "INVALID"),
        (inference_pb2.SetTrafficRequest(task="nope", canary_version="v1", canary_percent=5), "FAILED_PRECONDITION"),
    ]
    for request, code in cases:
        with pytest.raises(grpc.RpcError) as error:
            stub.SetTraffic(request)
        assert error.value.code().name.startswith(code), (request, error.value.details())


def test_routes_survive_a_restart(service, tmp_path) -> None:
    core, stub = service
    for version in ("v2", "v3"):
        core.registry.register(_copy_version(PRETRAINED_DIR / "intent", tmp_path / version, version))
    stub.PromoteModel(inference_pb2.PromoteModelRequest(task="intent", version="v3", actor="ml@acme"))
    stub.SetTraffic(
        inference_pb2.SetTrafficRequest(
            task="intent", canary_version="v2", canary_percent=25, shadow_version="pretrained-1", actor="ml@acme"
        )
    )
    before = core.traffic("intent").route
    restarted = InferenceCore(core.settings, encoder=core.encoder)
    try:
        after = restarted.traffic("intent").route
        assert after == before
        assert (after.stable, after.canary, after.canary_percent, after.shadow, after.previous) == (
            "v3",
            "v2",
            25.0,
            "pretrained-1",
            "pretrained-1",
        )
        assert restarted.rollback("intent").route.stable == "pretrained-1"  # previous is loaded: instant
    finally:
        restarted.close()
