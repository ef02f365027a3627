"""Several inference replicas ("pods") on one database and one registry folder converge to the saved routes:
a canary, a promotion or a rollback made on one pod is served by the other; a lifecycle read or write on one
pod sees what the other just wrote; a version one pod cannot load leaves it serving and reports the failure.
Real cores with the real encoder and the shipped adapter (copied as new versions), on SQLite and PostgreSQL;
then two real gRPC servers behind one round_robin channel."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import grpc
import pytest
from prometheus_client import REGISTRY
from salesai.inference.v1 import inference_pb2, inference_pb2_grpc
from sqlalchemy import func, select

from models.artifacts import ADAPTER_WEIGHTS
from models.config import ModelSettings
from services.common.channels import channel_options
from services.common.errors import SalesAIError, Unavailable
from services.common.storage import Database
from services.common.storage.lock import exclusive
from services.common.storage.models import AuditEvent
from services.inference.config import InferenceSettings
from services.inference.core import InferenceCore, route_lock_name
from services.inference.server import create_server
from training.jobs.deploy import deploy

T = TypeVar("T")
Pods = Callable[..., tuple[InferenceCore, InferenceCore]]
CONVERSATIONS = [f"conv-{i}" for i in range(24)]
TEXT = "Could you send me the price list for 200 seats?"


def _settings(data: Path, url: str, **changes: object) -> InferenceSettings:
    models = ModelSettings(data_dir=data, database_url=url)
    return InferenceSettings(port=0, data_dir=data, database_url=url, models=models, **changes)  # type: ignore[arg-type]


@pytest.fixture
def pods(encoder, secrets_env, migrated_url: str) -> Iterator[Pods]:
    """``pods(route_sync_seconds=...)``: two cores on the same database and the same data folder (registry)."""
    data = Path(secrets_env["SALESAI_DATA_DIR"])
    started: list[InferenceCore] = []

    def make(**changes: object) -> tuple[InferenceCore, InferenceCore]:
        settings = _settings(data, migrated_url, **changes)
        started.extend(InferenceCore(settings, encoder=encoder) for _ in range(2))
        return started[-2], started[-1]

    yield make
    for core in started:
        core.close()


def _eventually(check: Callable[[], T], what: str, limit: float = 60.0) -> T:
    """Poll ``check`` until it returns something truthy, or fail after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while not (got := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {limit:g} s: {what}")
        time.sleep(0.02)
    return got


def _served(core: InferenceCore) -> dict[str, str]:
    """The intent version each conversation is routed to (the hot path's routing, no forward pass)."""
    return {c: core.plan("acme", ["intent"], c).served[0].artifact.version for c in CONVERSATIONS}


def _state(core: InferenceCore, version: str) -> str:
    """The version's state on this pod, as it is now (no sync)."""
    return core.state(core.registry.get("intent", version)).state


def _audits(core: InferenceCore) -> int:
    with core.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def _sync_failures() -> float:
    return REGISTRY.get_sample_value("salesai_model_sync_failures_total", {"task": "intent"}) or 0.0


def test_a_canary_set_on_one_pod_is_served_by_the_other(pods: Pods, intent_copy) -> None:
    a, b = pods(route_sync_seconds=0.1)
    a.registry.register(intent_copy("v2"))
    a.set_traffic("intent", canary="v2", canary_percent=50, actor="ml@acme")
    on_a = _served(a)
    assert set(on_a.values()) == {"pretrained-1", "v2"}
    audits = _audits(a)
    _eventually(lambda: _served(b) == on_a, "pod b routes every conversation as pod a does")
    assert _state(b, "v2") == "canary"
    assert b.classify("acme", [TEXT], ["intent"], conversation_id="conv-1")[0][0].model_version == on_a["conv-1"]
    assert _audits(a) == audits  # following is no lifecycle call: only the pod that took it audits

    a.set_traffic("intent", actor="ml@acme")  # canary off: v2 is in no route any more
    _eventually(lambda: set(_served(b).values()) == {"pretrained-1"}, "pod b serves stable only")
    # no route names v2 any more: both pods drop it once no batch runs it
    _eventually(lambda: [_state(pod, "v2") for pod in (a, b)] == ["registered"] * 2, "v2 unloaded on both pods")


def test_a_promotion_on_one_pod_moves_the_other_and_a_rollback_there_moves_it_back(pods: Pods, intent_copy) -> None:
    a, b = pods(route_sync_seconds=0.1)
    a.registry.register(intent_copy("v3"))
    traffic, gate = a.promote("intent", "v3", actor="ml@acme")
    assert gate.passed and (traffic.route.stable, traffic.route.previous) == ("v3", "pretrained-1")
    _eventually(lambda: set(_served(b).values()) == {"v3"}, "pod b serves the promoted version")
    assert b.classify("acme", [TEXT], ["intent"])[0][0].model_version == "v3"

    rolled = b.rollback("intent", actor="ml@acme")
    assert (rolled.route.stable, rolled.route.previous) == ("pretrained-1", "v3")
    _eventually(lambda: set(_served(a).values()) == {"pretrained-1"}, "pod a follows the rollback")
    assert a.traffic("intent").route == rolled.route
    assert a.registry.production("intent").version == "pretrained-1"  # type: ignore[union-attr]


def test_reads_and_writes_on_one_pod_see_what_the_other_just_wrote(pods: Pods, intent_copy) -> None:
    """No periodic sync: the consistency comes from reconciling before each lifecycle read and write."""
    a, b = pods(route_sync_seconds=0)
    a.registry.register(intent_copy("v2"))
    a.set_traffic("intent", canary="v2", canary_percent=30, shadow=None, actor="ml@acme")
    seen = b.traffic("intent").route
    assert (seen.stable, seen.canary, seen.canary_percent) == ("pretrained-1", "v2", 30.0)
    assert {v.info.version: v.state for v in b.versions("intent")} == {"pretrained-1": "active", "v2": "canary"}

    traffic, gate = b.promote("intent", "v2", actor="ml@acme")  # the canary a set, promoted on b
    assert gate.passed
    assert (traffic.route.stable, traffic.route.canary, traffic.route.previous) == ("v2", None, "pretrained-1")
    assert a.traffic("intent").route == traffic.route
    assert set(_served(a).values()) == {"v2"}


def test_a_version_corrupt_on_the_shared_folder_leaves_the_other_pod_serving(
    pods: Pods, intent_copy, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = pods(route_sync_seconds=0.1)
    info = a.registry.register(intent_copy("v2"))
    a.load("intent", "v2", actor="ml@acme")  # loaded on a before the files broke
    weights = info.path / ADAPTER_WEIGHTS
    weights.write_bytes(weights.read_bytes()[:100])
    failures = _sync_failures()
    with caplog.at_level(logging.WARNING, logger="salesai.inference"):
        a.set_traffic("intent", canary="v2", canary_percent=50, actor="ml@acme")
        _eventually(lambda: _sync_failures() > failures, "pod b counts the failed load")
    assert any(r.getMessage() == "could not load a version a saved route names" for r in caplog.records)

    assert set(_served(b).values()) == {"pretrained-1"}  # b keeps serving its current route
    assert b.classify("acme", [TEXT], ["intent"])[0][0].label == "pricing_inquiry"
    states = {v.info.version: v for v in b.versions("intent")}
    assert states["v2"].state == "failed" and "corrupt" in states["v2"].error
    assert b.traffic("intent").route.canary is None
    assert _sync_failures() == failures + 1  # a read does not load the broken version again before the delay

    with pytest.raises(SalesAIError, match="corrupt"):  # a write needing it on b tries again and refuses
        b.set_traffic("intent", shadow="v2", actor="ml@acme")
    a.set_traffic("intent", actor="ml@acme")  # canary off on a: b is in step again
    assert b.traffic("intent").route == a.traffic("intent").route


def test_a_write_waits_while_another_replica_changes_the_same_task(pods: Pods, intent_copy) -> None:
    """Writes to one task run one at a time across replicas: the second starts from the first's result."""
    a, b = pods(route_sync_seconds=0)
    a.registry.register(intent_copy("v2"))
    b.load("intent", "v2")  # loaded and smoke-tested beforehand: unhindered, the write below takes milliseconds
    elsewhere = Database(b.db.url)  # a third replica, in the middle of a change to intent's route
    with exclusive(elsewhere, route_lock_name("", "intent"), timeout=5) as held:
        assert held
        writer = threading.Thread(target=b.set_traffic, args=("intent",), kwargs={"canary": "v2", "canary_percent": 20})
        writer.start()
        writer.join(3)
        assert writer.is_alive(), "the write did not wait for the other replica's change"
        assert a.traffic("intent").route.canary is None  # nothing saved while it waits
    writer.join(60)
    assert not writer.is_alive()
    assert a.traffic("intent").route.canary == "v2"
    # a promotion on a right after: it starts from b's saved route, so the canary it promotes is b's
    traffic, gate = a.promote("intent", "v2")
    assert gate.passed and (traffic.route.stable, traffic.route.canary) == ("v2", None)
    elsewhere.dispose()


def test_a_write_that_cannot_get_the_lock_in_time_changes_nothing(pods: Pods, intent_copy) -> None:
    a, b = pods(route_sync_seconds=0, lifecycle_lock_seconds=0.3)
    a.registry.register(intent_copy("v2"))
    audits = _audits(a)
    elsewhere = Database(b.db.url)
    with exclusive(elsewhere, route_lock_name("", "intent"), timeout=5) as held:
        assert held
        with pytest.raises(Unavailable, match="another replica is changing the route of 'intent'"):
            b.set_traffic("intent", canary="v2", canary_percent=20, actor="ml@acme")
        with pytest.raises(Unavailable):
            b.promote("intent", "v2", actor="ml@acme")
    assert a.traffic("intent").route.canary is None and _audits(a) == audits
    assert a.registry.production("intent").version == "pretrained-1"  # type: ignore[union-attr]
    b.set_traffic("intent", canary="v2", canary_percent=20)  # free again: the same call goes through
    assert a.traffic("intent").route.canary == "v2"
    elsewhere.dispose()


def test_deploy_then_get_traffic_through_one_round_robin_channel_over_two_servers(
    encoder, secrets_env, intent_copy
) -> None:
    """The training deploy (LoadModel, GetTraffic, SetTraffic) and every later read may each reach either pod."""
    data = Path(secrets_env["SALESAI_DATA_DIR"])
    url = f"sqlite:///{data / 'salesai.db'}"
    servers = [create_server(_settings(data, url, route_sync_seconds=0), encoder=encoder)[0] for _ in range(2)]
    for server in servers:
        server.start()
    cores: list[InferenceCore] = [s.hosted[0].servicer.core for s in servers]
    try:
        cores[0].registry.register(intent_copy("v2"))
        target = "ipv4:" + ",".join(f"127.0.0.1:{s.port}" for s in servers)
        result, _ = deploy(
            target, mode="canary", task="intent", version="v2", tenant_id="", canary_percent=20,
            actor="training job t1", timeout=120,
        )  # fmt: skip
        assert result["done"], result["detail"]
        with grpc.insecure_channel(target, options=channel_options()) as channel:
            stub = inference_pb2_grpc.InferenceServiceStub(channel)

            def read() -> bool:
                traffic = stub.GetTraffic(inference_pb2.GetTrafficRequest(task="intent"), timeout=120)
                assert (traffic.canary_version, traffic.canary_percent) == ("v2", 20)
                return all(_state(core, "v2") == "canary" for core in cores)

            # no periodic sync: a pod serves the canary once a call reached it, and round_robin reaches both
            _eventually(read, "both pods answered GetTraffic", limit=120)
    finally:
        for server in servers:
            server.stop(0)
