"""Faults in the running suite: the inference service is killed with SIGKILL mid-traffic. The gateway answers
503 with Retry-After at once (never hangs), ingestion keeps accepting messages, readiness reports the outage,
and after a restart on the same port classification comes back with nothing ingested lost."""

from __future__ import annotations

import os
import signal
import time
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

from ..pii_leaks import record_figures


@pytest.fixture
def suite(tmp_path: Path) -> Iterator[tuple[Suite, str, dict[str, str]]]:
    env = {**os.environ, "SALESAI_DATA_DIR": str(tmp_path), "SALESAI_GATEWAY_DEADLINE_SECONDS": "5"}
    settings = CommonSettings(data_dir=tmp_path)
    upgrade(settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    token = KeyStore(db, load_secrets(settings).api_key_pepper).create("acme", Role.CRM_BACKEND).token
    db.dispose()
    running = Suite(tmp_path, default_specs("127.0.0.1", 0, 0), base_env=env)
    running.start()
    yield running, f"http://127.0.0.1:{running.ports['gateway']}", {"Authorization": f"Bearer {token}"}
    running.stop()


def _classify(url: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{url}/v1/classify", json={"texts": ["预算冻结了"]}, headers=headers, timeout=30)


def test_inference_killed_then_restarted(suite) -> None:
    running, url, headers = suite
    assert _classify(url, headers).status_code == 200
    inference = next(r for r in running.running if r.spec.name == "inference")
    os.kill(inference.process.pid, signal.SIGKILL)
    inference.process.wait(10)

    started = time.monotonic()
    down = _classify(url, headers)
    answered_in = time.monotonic() - started
    assert down.status_code == 503 and down.headers["Retry-After"]
    assert down.json()["error"]["reason"] == "unavailable"
    assert answered_in < 6  # bounded by the gateway's deadline, never a hang
    kept = httpx.post(
        f"{url}/v1/interactions",
        json={"external_id": "during-outage", "text": "合同下周签"},
        headers=headers,
        timeout=30,
    )
    assert kept.status_code == 201  # ingestion does not depend on inference
    ready = httpx.get(f"{url}/readyz", timeout=10)
    assert ready.status_code == 503 and ready.json()["services"]["inference"] != "SERVING"

    restarted = running.restart("inference")
    assert restarted.port == inference.port
    deadline = time.monotonic() + 30
    restarted_at = time.monotonic()
    while (reply := _classify(url, headers)).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.5)  # the gateway's channel reconnects with gRPC's own backoff
    assert reply.status_code == 200
    recovered_in = time.monotonic() - restarted_at
    assert reply.json()["results"][0]["predictions"][0]["label"] == "budget_freeze"
    interaction = kept.json()["interaction"]["id"]
    assert httpx.get(f"{url}/v1/interactions/{interaction}", headers=headers, timeout=10).status_code == 200
    assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200
    record_figures(
        "inference_sigkill",
        outage_answer_status=down.status_code,
        outage_answer_seconds=round(answered_in, 3),
        ingested_during_outage=1,
        lost=0,
        classification_back_seconds_after_restart=round(recovered_in, 2),
    )
