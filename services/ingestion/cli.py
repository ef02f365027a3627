"""``salesai redact``: batch redaction of JSON lines on stdin (registered by ``services.cli``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO, TextIO

import typer

BATCH = 64


def register(app: typer.Typer) -> None:
    """Add the ``redact`` command to ``app``."""
    app.command("redact")(redact_command)


def redact_command(
    lang: str = typer.Option("auto", "--lang", help="Language of the texts: auto, zh or en."),
    no_spacy: bool = typer.Option(False, "--no-spacy", help="Skip spaCy English NER (faster start, fewer names)."),
) -> None:
    """Read JSON lines with a "text" field on stdin; write them back with "redacted" and "entities" added.

    Malformed lines are reported on stderr by line number (never their content) and skipped; the exit code
    is 1 if any line failed.
    """
    if lang not in ("auto", "zh", "en"):
        raise typer.BadParameter("must be one of auto, zh, en", param_hint="--lang")
    from services.ingestion.redaction import RedactionConfig, Redactor

    redactor = Redactor(RedactionConfig(use_spacy=not no_spacy))
    failed = run_batch(redactor, sys.stdin.buffer, sys.stdout, sys.stderr, lang)
    raise typer.Exit(1 if failed else 0)


def run_batch(redactor: Any, source: BinaryIO, out: TextIO, err: TextIO, lang: str = "auto") -> int:
    """Redact every valid line of ``source`` to ``out``; returns the number of failed lines."""
    failed = 0
    batch: list[dict[str, Any]] = []
    for number, record, problem in read_records(source):
        if problem:
            failed += 1
            err.write(f"line {number}: {problem}; skipped\n")
            continue
        batch.append(record)
        if len(batch) >= BATCH:
            _flush(redactor, batch, out, lang)
    _flush(redactor, batch, out, lang)
    return failed


def read_records(source: BinaryIO) -> Iterator[tuple[int, dict[str, Any], str]]:
    """JSON lines with a string "text": (line number, record, problem); the problem never quotes the content."""
    for number, raw in enumerate(source, start=1):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            yield number, {}, f"invalid UTF-8 at byte {error.start}"
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            yield number, {}, f"invalid JSON ({error.msg} at column {error.colno})"
            continue
        if not isinstance(record, dict):
            yield number, {}, "not a JSON object"
        elif not isinstance(record.get("text"), str):
            yield number, {}, 'missing or non-string "text" field'
        else:
            yield number, record, ""


def _flush(redactor: Any, batch: list[dict[str, Any]], out: TextIO, lang: str) -> None:
    if not batch:
        return
    results = redactor.redact_many([r["text"] for r in batch], language=lang)
    for record, result in zip(batch, results, strict=True):
        record["redacted"] = result.text
        record["entities"] = [
            {"type": e.type, "start": e.start, "end": e.end, "score": e.score} for e in result.entities
        ]
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    out.flush()
    batch.clear()
