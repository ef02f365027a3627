"""``salesai redact`` as data teams run it: the installed command in a subprocess, JSON lines on stdin."""

from __future__ import annotations

import json
import os
import subprocess
import sys

SALESAI = [sys.executable, "-c", "from services.cli import main; main()", "redact"]
LINES = [
    json.dumps(
        {"id": 1, "text": "王先生的手机13812345678，邮箱zhang@corp-mail.cn", "channel": "wechat"}, ensure_ascii=False
    ),
    "{not json, 13987654321",
    json.dumps({"id": 3, "text": "Call me at (415) 555-0100, invoice INV-2024-0087 for ¥12,800.00"}),
    json.dumps({"id": 4, "txt": "13987654321"}),
    "",
    json.dumps({"id": 6, "text": "没有个人信息"}, ensure_ascii=False),
]


def _run(*args: str, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([*SALESAI, *args], input=stdin, capture_output=True, env=env, timeout=180, check=False)


def test_redact_writes_json_lines_and_reports_bad_lines_by_number() -> None:
    done = _run("--lang", "auto", "--no-spacy", stdin="\n".join(LINES).encode() + b"\n\xff\xfe bad bytes\n")
    assert done.returncode == 1  # some lines failed
    records = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [r["id"] for r in records] == [1, 3, 6]
    first, third, sixth = records
    assert first["redacted"] == "<PERSON_1>先生的手机<PHONE_1>，邮箱<EMAIL_1>"
    assert first["channel"] == "wechat" and first["text"] == json.loads(LINES[0])["text"]  # fields pass through
    text = first["text"]
    assert [(e["type"], text[e["start"] : e["end"]]) for e in first["entities"]] == [
        ("PERSON", "王"),
        ("PHONE_NUMBER", "13812345678"),
        ("EMAIL_ADDRESS", "zhang@corp-mail.cn"),
    ]
    assert all(0 < e["score"] <= 1 for e in first["entities"])
    assert third["redacted"] == "Call me at <PHONE_1>, invoice INV-2024-0087 for ¥12,800.00"
    assert sixth["redacted"] == "没有个人信息" and sixth["entities"] == []
    errors = done.stderr.decode()
    for number in (2, 4, 7):
        assert f"line {number}:" in errors
    assert "line 5:" not in errors  # a blank line is skipped silently
    assert "13987654321" not in errors  # an error names the line, never its content


def test_clean_input_exits_zero_and_a_bad_language_is_a_usage_error() -> None:
    done = _run("--lang", "zh", "--no-spacy", stdin=(LINES[5] + "\n").encode())
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout)["redacted"] == "没有个人信息"
    refused = _run("--lang", "fr", stdin=b"")
    assert refused.returncode == 2 and "--lang" in refused.stderr.decode()
