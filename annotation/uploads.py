"""Uploaded item files: ``.jsonl`` (one ``{"text", "external_id"?, "lang"?}`` object per line) or ``.csv`` (a
``text`` column, optional ``external_id``). Every bad line is named; nothing is loaded when any line is bad.
Other fields are ignored: only the text is redacted, so nothing else from a file is kept."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from annotation.schemas import MAX_TEXT_CHARS
from services.common.errors import InvalidArgument


@dataclass(frozen=True)
class UploadedText:
    line: int
    text: str
    external_id: str = ""


def parse_upload(filename: str, data: bytes, max_items: int) -> list[UploadedText]:
    name = filename.lower()
    try:
        decoded = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InvalidArgument(f"{filename}: not UTF-8 (bad byte at offset {err.start})", field="file") from None
    if name.endswith(".jsonl") or name.endswith(".ndjson"):
        rows, problems = _jsonl(decoded)
    elif name.endswith(".csv"):
        rows, problems = _csv(decoded)
    else:
        raise InvalidArgument(f"{filename}: upload a .jsonl or .csv file", field="file")
    for row in rows:
        if not row.text.strip():
            problems.append(f"line {row.line}: text is empty")
        elif len(row.text) > MAX_TEXT_CHARS:
            problems.append(f"line {row.line}: text longer than {MAX_TEXT_CHARS} characters")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise InvalidArgument(f"{filename}: {len(problems)} bad line(s): {shown}", field="file")
    if not rows:
        raise InvalidArgument(f"{filename} holds no items", field="file")
    if len(rows) > max_items:
        raise InvalidArgument(f"{filename}: {len(rows)} items; at most {max_items} per upload", field="file")
    return rows


def _jsonl(decoded: str) -> tuple[list[UploadedText], list[str]]:
    rows, problems = [], []
    for number, raw in enumerate(decoded.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as err:
            problems.append(f"line {number}: invalid JSON ({err.msg})")
            continue
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            problems.append(f'line {number}: expected an object with a string "text"')
            continue
        rows.append(UploadedText(number, record["text"], str(record.get("external_id", ""))[:200]))
    return rows, problems


def _csv(decoded: str) -> tuple[list[UploadedText], list[str]]:
    reader = csv.DictReader(io.StringIO(decoded, newline=""))
    if reader.fieldnames is None or "text" not in reader.fieldnames:
        raise InvalidArgument('CSV upload needs a header row with a "text" column', field="file")
    rows = []
    try:
        for record in reader:
            rows.append(
                UploadedText(reader.line_num, record.get("text") or "", (record.get("external_id") or "")[:200])
            )
    except csv.Error as err:
        raise InvalidArgument(f"line {reader.line_num}: bad CSV ({err})", field="file") from None
    return rows, []
