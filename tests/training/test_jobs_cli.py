"""`salesai jobs ...` against the real gateway (uvicorn on an ephemeral port) in front of the real training and
inference services: submit, watch to the end, show, list, report, and the errors a user meets (a finished job
cannot be cancelled, an unknown job, a wrong key) — each with a message and a non-zero exit code."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from gateway.__main__ import bind_socket
from gateway.auth import KeyStore
from gateway.config import GatewaySettings
from gateway.main import create_app
from services.cli import app as cli
from services.common.roles import Role


@pytest.fixture
def gateway(migrated_url: str, start_training, inference) -> Iterator[tuple[str, str]]:
    start_training(inference.port)
    settings = GatewaySettings(
        database_url=migrated_url,
        inference_url=f"127.0.0.1:{inference.port}",
        training_url=start_training.target,
        deadline_seconds=30,
        key_cache_seconds=0,
    )
    app = create_app(settings)
    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.02)
    keys: KeyStore = app.state.keys
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", keys.create("acme", Role.ML_ENGINEER).token
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def test_submit_watch_show_list_report(gateway, dataset: Path, tmp_path: Path) -> None:
    url, key = gateway
    runner = CliRunner()
    common = ["--url", url, "--key", key]

    submitted = runner.invoke(
        cli, ["jobs", "submit", "small_intent", "--data", str(dataset), "--method", "linear", *common]
    )
    assert submitted.exit_code == 0, submitted.output
    job = json.loads(submitted.stdout)
    # an idle worker may claim the job before the reply is written: queued or already running
    assert job["state"] in ("queued", "running") and job["params"]["method"] == "linear"

    watched = runner.invoke(cli, ["jobs", "watch", job["id"], *common])
    assert watched.exit_code == 0, watched.output  # 0 only when it succeeded
    assert "succeeded" in watched.output and "running" in watched.output

    shown = json.loads(runner.invoke(cli, ["jobs", "show", job["id"], *common]).stdout)
    assert shown["state"] == "succeeded" and shown["version"] == "v1" and shown["metrics"]["macro_f1"] > 0
    listed = runner.invoke(cli, ["jobs", "list", *common])
    assert listed.exit_code == 0 and job["id"] in listed.output
    out = tmp_path / "report.html"
    reported = runner.invoke(cli, ["jobs", "report", job["id"], "--out", str(out), *common])
    assert reported.exit_code == 0 and "<html" in out.read_text(encoding="utf-8").lower()

    finished = runner.invoke(cli, ["jobs", "cancel", job["id"], *common])
    assert finished.exit_code != 0 and "succeeded" in finished.output  # says why it cannot be cancelled
    unknown = runner.invoke(cli, ["jobs", "show", "0" * 32, *common])
    assert unknown.exit_code != 0 and "not found" in unknown.output
    wrong_key = runner.invoke(cli, ["jobs", "list", "--url", url, "--key", "sai_nope_nope"])
    assert wrong_key.exit_code != 0 and "API key" in wrong_key.output
