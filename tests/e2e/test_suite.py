"""The whole suite as `salesai up` runs it — separate processes on ephemeral ports — driven through the gateway
with real API keys: health, readiness, metrics, authenticated ingestion into the gRPC service and back,
graceful stop, and no raw PII in any log line or metric."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.auth import KeyStore
from services.cli.supervisor import Suite, default_specs
from services.common.roles import Role
from services.common.secrets import load_secrets
from services.common.settings import CommonSettings
from services.common.storage import Database, upgrade

from ..conftest import fresh_postgres_database

PLANTED = {
    "phone": "13987654321",
    "email": "wang.planted@example.com",
    "id": "11010519491231002X",
}
MESSAGE = f"王先生您好，我的手机{PLANTED['phone']}，邮箱{PLANTED['email']}，身份证{PLANTED['id']}。预算冻结了。"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def suite(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Suite, str, dict[str, str]]]:
    """Every process of the suite on the embedded default (SQLite), then on the PostgreSQL server by URL
    (``SALESAI_DATABASE_URL``, as compose and Kubernetes run it)."""
    data_dir = tmp_path_factory.mktemp("suite-data")
    env = {**os.environ, "SALESAI_DATA_DIR": str(data_dir), "SALESAI_LOG_LEVEL": "INFO"}
    database = None
    if request.param == "postgresql":
        database = fresh_postgres_database(request.getfixturevalue("postgres_server"))
        env["SALESAI_DATABASE_URL"] = next(database)
    settings = CommonSettings(data_dir=data_dir, database_url=env.get("SALESAI_DATABASE_URL"))
    upgrade(settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    keys = KeyStore(db, load_secrets(settings).api_key_pepper)
    tokens = {role.value: keys.create("acme", role).token for role in Role}
    tokens["other_tenant_crm"] = keys.create("globex", Role.CRM_BACKEND).token
    tokens["other_tenant_ml"] = keys.create("globex", Role.ML_ENGINEER).token
    db.dispose()
    running = Suite(data_dir, default_specs("127.0.0.1", 0, 0), base_env=env)
    running.start()
    try:
        yield running, f"http://127.0.0.1:{running.ports['gateway']}", tokens
    finally:
        running.stop()
        if database is not None:
            next(database, None)  # drops the database


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_health_readiness_and_metrics(suite) -> None:
    _, url, _ = suite
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{url}/readyz")
    assert ready.status_code == 200
    services = {name: "SERVING" for name in ("ingestion", "inference", "training", "leads")}
    assert ready.json() == {"status": "ready", "services": services}
    metrics = httpx.get(f"{url}/metrics").text
    assert "salesai_http_requests_total" in metrics


def test_authenticated_request_goes_through_grpc_and_back(suite) -> None:
    _, url, tokens = suite
    body = {
        "external_id": "wx-1",
        "customer_id": "c-1",
        "conversation_id": "conv-1",
        "channel": "wechat",
        "text": MESSAGE,
    }
    reply = httpx.post(f"{url}/v1/interactions", json=body, headers=_auth(tokens["crm_backend"]), timeout=30)
    assert reply.status_code == 201, reply.text
    interaction = reply.json()["interaction"]
    assert reply.headers["x-request-id"]
    for value in PLANTED.values():
        assert value not in interaction["redacted_text"]
    assert "预算冻结了" in interaction["redacted_text"]
    assert {e["type"] for e in interaction["entities"]} >= {"PHONE_NUMBER", "EMAIL_ADDRESS", "CN_RESIDENT_ID"}
    again = httpx.post(f"{url}/v1/interactions", json=body, headers=_auth(tokens["crm_backend"]), timeout=30)
    assert again.status_code == 201 and again.json() == {**reply.json(), "created": False}
    fetched = httpx.get(f"{url}/v1/interactions/{interaction['id']}", headers=_auth(tokens["sales_rep"]))
    assert fetched.json()["redacted_text"] == interaction["redacted_text"]
    other = httpx.get(f"{url}/v1/interactions/{interaction['id']}", headers=_auth(tokens["other_tenant_crm"]))
    assert other.status_code == 404


def test_classify_redacts_first_then_returns_intent_and_risk_with_evidence(suite) -> None:
    _, url, tokens = suite
    body = {"texts": [MESSAGE, "Could you send me the price list for 200 seats?"]}
    reply = httpx.post(f"{url}/v1/classify", json=body, headers=_auth(tokens["crm_backend"]), timeout=60)
    assert reply.status_code == 200, reply.text
    first, second = reply.json()["results"]
    for value in PLANTED.values():
        assert value not in json.dumps(first, ensure_ascii=False)
    intent, risk = first["predictions"]
    assert (intent["task"], intent["label"]) == ("intent", "budget_freeze")
    assert risk["task"] == "risk" and risk["label"] in ("medium", "high")
    assert 0 < intent["confidence"] <= 1 and intent["evidence"]
    for span in intent["evidence"]:
        assert first["redacted_text"][span["start"] : span["end"]] == span["text"]
    assert second["predictions"][0]["label"] == "pricing_inquiry"
    models = httpx.get(f"{url}/v1/models", headers=_auth(tokens["ml_engineer"]), timeout=30)
    assert {v["task"] for v in models.json()["versions"]} == {"intent", "risk"}
    refused = httpx.get(f"{url}/v1/models", headers=_auth(tokens["sales_rep"]), timeout=30)
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer sai_000000000000_wrong"}, 401), ({"X-API-Key": "garbage"}, 401)],
    ids=["missing", "wrong", "malformed"],
)
def test_missing_or_wrong_key_is_401(suite, headers: dict[str, str], status: int) -> None:
    _, url, _ = suite
    reply = httpx.post(f"{url}/v1/interactions", json={"external_id": "x", "text": "hi"}, headers=headers)
    assert reply.status_code == status
    assert reply.json()["error"]["reason"] == "unauthenticated"


def test_wrong_role_is_403(suite) -> None:
    _, url, tokens = suite
    reply = httpx.post(
        f"{url}/v1/interactions", json={"external_id": "x", "text": "hi"}, headers=_auth(tokens["labeller"])
    )
    assert reply.status_code == 403
    assert "labeller" in reply.json()["error"]["message"]


def test_no_planted_pii_in_logs_or_metrics(suite) -> None:
    running, url, tokens = suite
    httpx.post(f"{url}/v1/redact", json={"text": MESSAGE}, headers=_auth(tokens["crm_backend"]), timeout=30)
    metrics = httpx.get(f"{url}/metrics").text
    logs = "".join(Path(r.log_path).read_text(encoding="utf-8") for r in running.running)
    assert '"msg": "http"' in logs and '"msg": "rpc"' in logs  # the logs are really written
    for value in PLANTED.values():
        assert value not in logs
        assert value not in metrics


def test_sigterm_stops_every_process_cleanly(tmp_path: Path) -> None:
    env = {**os.environ, "SALESAI_DATA_DIR": str(tmp_path)}
    upgrade(CommonSettings(data_dir=tmp_path).resolved_database_url)
    running = Suite(tmp_path, default_specs("127.0.0.1", 0, 0), base_env=env)
    running.start()
    processes = [r.process for r in running.running]
    for process in reversed(processes):
        process.send_signal(signal.SIGTERM)
    assert [r.spec.name for r in running.running] == [s.name for s in default_specs("127.0.0.1", 0, 0)]
    assert [p.wait(20) for p in processes] == [0] * len(processes)
    running.running.clear()


def test_model_management_through_the_gateway(suite) -> None:
    """A tenant's ml_engineer loads its own version, canaries it, promotes it and rolls back; roles are enforced."""
    import shutil

    from models.artifacts import MANIFEST
    from models.registry import PRETRAINED_DIR, ModelRegistry

    running, url, tokens = suite
    data_dir = Path(running.data_dir)
    settings = CommonSettings(data_dir=data_dir, database_url=running.base_env.get("SALESAI_DATABASE_URL"))
    db = Database(settings.resolved_database_url)
    staged = data_dir / "staged-intent"
    shutil.copytree(PRETRAINED_DIR / "intent", staged)
    manifest = json.loads((staged / MANIFEST).read_text())
    manifest["version"] = "acme-1"
    (staged / MANIFEST).write_text(json.dumps(manifest))
    ModelRegistry(db, data_dir / "models").register(staged, tenant_id="acme")
    db.dispose()

    ml, admin = _auth(tokens["ml_engineer"]), _auth(tokens["admin"])
    base = f"{url}/v1/models/intent"
    listed = httpx.get(f"{url}/v1/models", params={"task": "intent"}, headers=ml, timeout=30).json()["versions"]
    assert {(v["tenant_id"], v["version"]) for v in listed} == {("", "pretrained-1"), ("acme", "acme-1")}

    assert httpx.post(f"{base}/versions/acme-1/promote", json={}, headers=_auth(tokens["labeller"])).status_code == 403
    denied = httpx.put(f"{base}/traffic", params={"scope": "global"}, json={}, headers=ml)
    assert denied.status_code == 403 and "admin" in denied.json()["error"]["message"]
    glob = httpx.get(f"{base}/traffic", params={"scope": "global"}, headers=admin, timeout=30)
    assert glob.status_code == 200 and glob.json()["stable_version"] == "pretrained-1"

    loaded = httpx.post(f"{base}/versions/acme-1/load", headers=ml, timeout=120)
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["state"] == "ready" and loaded.json()["metrics"]["smoke_macro_f1"] > 0.7
    # the tenant has no stable version of its own yet: activate it through promotion (no gate: nothing serves)
    promoted = httpx.post(f"{base}/versions/acme-1/promote", json={}, headers=ml, timeout=120)
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["traffic"]["stable_version"] == "acme-1" and promoted.json()["gate"]["passed"]
    reply = httpx.post(
        f"{url}/v1/classify", json={"texts": ["预算冻结了"], "tasks": ["intent"]}, headers=_auth(tokens["crm_backend"])
    )
    assert reply.json()["results"][0]["predictions"][0]["model_version"] == "acme-1"
    other = httpx.post(
        f"{url}/v1/classify",
        json={"texts": ["预算冻结了"], "tasks": ["intent"]},
        headers=_auth(tokens["other_tenant_crm"]),
    )
    assert other.json()["results"][0]["predictions"][0]["model_version"] == "pretrained-1"  # globex: global version
    theirs = httpx.get(f"{url}/v1/models", headers=_auth(tokens["other_tenant_ml"]), timeout=30).json()["versions"]
    assert "acme-1" not in {v["version"] for v in theirs}  # globex never sees acme's versions
    hidden = httpx.post(f"{base}/versions/acme-1/load", headers=_auth(tokens["other_tenant_ml"]), timeout=30)
    assert hidden.status_code == 404
    assert httpx.post(f"{base}/rollback", headers=ml).status_code == 409  # nothing served acme before
    missing = httpx.post(f"{base}/versions/v404/load", headers=ml, timeout=30)
    assert missing.status_code == 404


def test_models_cli_calls_the_same_api(suite) -> None:
    import subprocess
    import sys

    _, url, tokens = suite
    command = [sys.executable, "-c", "from services.cli import main; main()", "models", "traffic", "intent"]
    env = {**os.environ, "SALESAI_URL": url}
    shown = subprocess.run(
        [*command, "--global"], env={**env, "SALESAI_API_KEY": tokens["admin"]}, capture_output=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr.decode()
    assert json.loads(shown.stdout)["stable_version"] == "pretrained-1"
    refused = subprocess.run(
        [*command, "--global", "--shadow", "pretrained-1"],
        env={**env, "SALESAI_API_KEY": tokens["ml_engineer"]},
        capture_output=True,
        timeout=60,
    )
    assert refused.returncode == 1 and "403" in refused.stderr.decode()


def test_analyze_ingests_classifies_and_suggests_with_evidence(suite) -> None:
    _, url, tokens = suite
    crm = _auth(tokens["crm_backend"])
    earlier = []
    for i, text in enumerate(
        ["你们的报价太贵了，能不能便宜一点？", "价格还是高，别家便宜20%", "如果价格不降我们很难推进"]
    ):
        body = {"external_id": f"lead9-{i}", "customer_id": "lead-9", "lead_id": "lead-9", "text": text}
        earlier.append(
            httpx.post(f"{url}/v1/interactions", json=body, headers=crm, timeout=30).json()["interaction"]["id"]
        )
    priced = httpx.post(
        f"{url}/v1/analyze",
        json={
            "external_id": "lead9-3",
            "lead_id": "lead-9",
            "text": "这个价格我们真的接受不了，再降一点吧",
            "recent_interaction_ids": earlier,
        },
        headers=crm,
        timeout=60,
    )
    assert priced.status_code == 200, priced.text
    actions = {s["action"]: s for s in priced.json()["suggestions"]}
    assert "offer_discount" in actions
    assert set(actions["offer_discount"]["evidence"]["interaction_ids"]) <= {
        *earlier,
        priced.json()["interaction"]["id"],
    }

    frozen = httpx.post(
        f"{url}/v1/analyze",
        json={"external_id": "lead10-0", "lead_id": "lead-10", "text": MESSAGE},
        headers=crm,
        timeout=60,
    )
    assert frozen.status_code == 200, frozen.text
    body = frozen.json()
    for value in PLANTED.values():
        assert value not in json.dumps(body, ensure_ascii=False)
    assert body["predictions"][0]["label"] == "budget_freeze"
    suggested = {s["action"]: s for s in body["suggestions"]}
    assert {"pause_quote_pushes", "alert_manager"} <= set(suggested)
    pause = suggested["pause_quote_pushes"]
    assert pause["evidence"]["interaction_ids"] == [body["interaction"]["id"]]
    assert 0 < pause["confidence"] <= 1 and pause["auto_send"] is False
    assert pause["draft"]["language"] == "zh" and pause["draft"]["ai_generated"] is True
    refused = httpx.post(
        f"{url}/v1/analyze", json={"external_id": "x", "text": "hi"}, headers=_auth(tokens["labeller"])
    )
    assert refused.status_code == 403
    unknown = httpx.post(
        f"{url}/v1/analyze",
        json={"external_id": "lead11-0", "text": "hello", "recent_interaction_ids": ["nope"]},
        headers=crm,
        timeout=30,
    )
    assert unknown.status_code == 404
