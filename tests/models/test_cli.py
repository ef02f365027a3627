"""`salesai train --fast`, `salesai models list` and `salesai classify` as a user runs them (subprocesses, real
model, a private data folder)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SALESAI = [sys.executable, "-c", "from services.cli import main; main()"]


@pytest.fixture
def env(tmp_path: Path, base_model_dir: Path) -> dict[str, str]:
    return {**os.environ, "SALESAI_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}


def _run(env: dict[str, str], *args: str, stdin: str | bytes = b"") -> subprocess.CompletedProcess[bytes]:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return subprocess.run([*SALESAI, *args], input=data, env=env, capture_output=True, timeout=300)


def test_fast_training_registers_a_version_that_classify_serves(
    env: dict[str, str], tmp_path: Path, small_data
) -> None:
    labels, examples = small_data
    data = tmp_path / "small.jsonl"
    rows = [{"text": e.text, "label": e.label} for e in examples]  # no splits: the CLI assigns them
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")

    trained = _run(env, "train", "--task", "lead_topic", "--data", str(data), "--fast", "--stage", "production")
    assert trained.returncode == 0, trained.stderr.decode()
    result = json.loads(trained.stdout.decode().strip().splitlines()[-1])
    assert result["task"] == "lead_topic" and result["version"] == "v1"
    assert result["metrics"]["macro_f1"] >= 0.6

    listed = _run(env, "models", "list", "--task", "lead_topic")
    assert listed.returncode == 0 and "production" in listed.stderr.decode()

    lines = [
        json.dumps({"id": 1, "text": "Please unsubscribe me, my email is wang.test@example.com"}),
        "{broken json",
        json.dumps({"id": 2, "text": "今年预算冻结了，项目先停一停"}),
    ]
    classified = _run(env, "classify", "--task", "lead_topic", stdin="\n".join(lines))
    assert classified.returncode == 1  # one bad line: reported, skipped, the others classified
    assert "line 2: invalid JSON" in classified.stderr.decode()
    first, second = (json.loads(line) for line in classified.stdout.decode().splitlines())
    assert first["id"] == 1 and first["redacted"] == "Please unsubscribe me, my email is <EMAIL_1>"
    assert "wang.test" not in json.dumps(first["evidence"])  # the model saw only the redacted text
    assert (first["label"], second["label"]) == ("unsubscribe", "budget_freeze")
    assert set(first["probabilities"]) == set(labels)
    for span in second["evidence"]:
        assert second["redacted"][span["start"] : span["end"]] == span["text"]


def test_classify_defaults_to_intent_and_risk_and_no_redact_keeps_text(env: dict[str, str]) -> None:
    line = json.dumps({"text": "Can we move our call to Thursday 3pm?"})
    classified = _run(env, "classify", "--no-redact", "--no-explain", stdin=line)
    assert classified.returncode == 0, classified.stderr.decode()
    record = json.loads(classified.stdout)
    assert "redacted" not in record
    assert set(record["predictions"]) == {"intent", "risk"}
    assert record["predictions"]["intent"]["label"] == "meeting_request"
    assert record["predictions"]["risk"]["evidence"] == []


def test_train_reports_bad_data_by_line(env: dict[str, str], tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_bytes(b'{"text": "ok", "label": "a"}\n{"text": "", "label": "b"}\n\xff\xfe\n')
    trained = _run(env, "train", "--task", "bad", "--data", str(data), "--fast")
    assert trained.returncode == 1
    error = trained.stderr.decode()
    assert "line 2" in error and "line 3: invalid UTF-8" in error
    missing = _run(env, "train", "--task", "bad", "--data", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr.decode()
