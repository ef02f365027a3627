"""``salesai redact``: JSON lines in, JSON lines out; bad lines reported by number, never echoed."""

from __future__ import annotations

import io
import json

import pytest
import typer
from typer.testing import CliRunner

from services.ingestion import cli


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:  # a group, so that the command is called by name
        pass

    cli.register(app)
    return app


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_redacts_and_passes_other_fields_through(app, fast_redactor, monkeypatch) -> None:
    monkeypatch.setattr("services.ingestion.redaction.Redactor", lambda config: fast_redactor)
    stdin = (
        json.dumps({"id": 1, "text": "手机13812345678"}, ensure_ascii=False) + "\n" + '{"id": 2, "text": "no pii"}\n'
    ).encode()
    result = CliRunner().invoke(app, ["redact", "--lang", "auto", "--no-spacy"], input=stdin)
    assert result.exit_code == 0, result.output
    first, second = _lines(result.stdout)
    assert first == {
        "id": 1,
        "text": "手机13812345678",
        "redacted": "手机<PHONE_1>",
        "entities": [{"type": "PHONE_NUMBER", "start": 2, "end": 13, "score": first["entities"][0]["score"]}],
    }
    assert second["redacted"] == "no pii" and second["entities"] == []


def test_bad_lines_reported_by_number_and_skipped(fast_redactor) -> None:
    source = io.BytesIO(
        b'{"text": "ok 13812345678"}\n'
        b"{not json 13987654321\n"
        b'{"text": 5}\n'
        b'{"txt": "13987654321"}\n'
        b'["13987654321"]\n'
        b'{"text": "\xff\xfe 13987654321"}\n'
        b"\n"
        b'{"text": "last"}\n'
    )
    out, err = io.StringIO(), io.StringIO()
    failed = cli.run_batch(fast_redactor, source, out, err)
    assert failed == 5
    assert [r["redacted"] for r in _lines(out.getvalue())] == ["ok <PHONE_1>", "last"]
    messages = err.getvalue()
    for number in (2, 3, 4, 5, 6):
        assert f"line {number}:" in messages
    assert "13987654321" not in messages


def test_exit_code_one_on_failure_and_bad_lang(app, fast_redactor, monkeypatch) -> None:
    monkeypatch.setattr("services.ingestion.redaction.Redactor", lambda config: fast_redactor)
    runner = CliRunner()
    result = runner.invoke(app, ["redact", "--no-spacy"], input=b'{"text": "a"}\nnot json\n')
    assert result.exit_code == 1
    assert "line 2:" in result.stderr and len(_lines(result.stdout)) == 1
    assert runner.invoke(app, ["redact", "--lang", "fr"], input=b"").exit_code == 2
