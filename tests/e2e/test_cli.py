"""The `salesai` command line: `up` prints the URLs and stops cleanly on Ctrl-C; `keys` mints working keys."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from services.cli import app

SALESAI = [sys.executable, "-c", "from services.cli import main; main()"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "SALESAI_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}


def test_keys_create_list_revoke(env: dict[str, str]) -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "--tenant", "acme", "--role", "crm_backend"], env=env)
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"sai_[0-9a-f]{12}_[\w-]+", token)
    key_id = token.split("_")[1]
    listed = runner.invoke(app, ["keys", "list", "--tenant", "acme"], env=env)
    assert key_id in listed.output and token.split("_", 2)[2] not in listed.output
    assert runner.invoke(app, ["keys", "revoke", key_id], env=env).exit_code == 0
    missing = runner.invoke(app, ["keys", "revoke", "nope"], env=env)
    assert missing.exit_code == 1 and "not found" in missing.output
    bad_role = runner.invoke(app, ["keys", "create", "--tenant", "acme", "--role", "root"], env=env)
    assert bad_role.exit_code != 0


def test_up_serves_and_stops_cleanly_on_ctrl_c(env: dict[str, str]) -> None:
    process = subprocess.Popen(
        [*SALESAI, "up", "--gateway-port", "0", "--ingestion-port", "0"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    output, url = [], None
    deadline = time.monotonic() + 240
    while url is None and time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        output.append(line)
        match = re.search(r"(http://127\.0\.0\.1:\d+)/readyz", line)
        url = match.group(1) if match else None
    try:
        assert url, "".join(output)
        assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200
        status = subprocess.run([*SALESAI, "status", "--url", url], env=env, capture_output=True, text=True)
        assert status.returncode == 0 and "SERVING" in status.stderr
    finally:
        process.send_signal(signal.SIGINT)
        rest = process.communicate(timeout=60)[1]
    assert process.returncode == 0, rest
    assert "stopped" in rest
