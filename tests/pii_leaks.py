"""A pytest plugin that proves no raw PII escaped into logs or metrics during the whole test run.

Every log record of the run (formatted as the services format them) is kept; at the end, those lines, the log
files of every service process the tests started (``*/logs/*.log`` under pytest's temporary folder) and the
Prometheus exposition of this process are scanned for structured PII of the kinds the tests plant: mainland
mobile numbers, resident ID numbers (checksum-valid), bank cards (Luhn-valid, 16-19 digits) and e-mail
addresses. A hit fails the session and is reported masked, with where it was found.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.logging import JsonFormatter
from services.ingestion.redaction.checksums import cn_id_valid, luhn_valid

#: digit runs glued to Latin letters or digits are parts of ids (hex request ids, uuids), not values
PATTERNS: dict[str, re.Pattern[str]] = {
    "phone": re.compile(r"(?<![\dA-Za-z])1[3-9]\d{9}(?![\dA-Za-z])"),
    "cn_id": re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])"),
    "card": re.compile(r"(?<![\dA-Za-z])(?:\d[ -]?){15,18}\d(?![\dA-Za-z])"),
    "email": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
}
#: example addresses that are not anybody's data (RFC 2606 reserved names, our own service accounts)
ALLOWED_EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "salesai.local")


#: decimal numbers (latencies, histogram sums, timestamps) are no one's card number
DECIMAL = re.compile(r"\d*\.\d+(?:[eE][+-]?\d+)?")


def find_pii(text: str) -> Iterator[tuple[str, str]]:
    text = DECIMAL.sub(" ", text)
    for kind, pattern in PATTERNS.items():
        for match in pattern.finditer(text):
            value = match.group()
            digits = re.sub(r"[ -]", "", value)
            if kind == "cn_id" and not cn_id_valid(value.upper()):
                continue
            if kind == "card" and not (len(digits) >= 16 and luhn_valid(digits)):
                continue
            if kind == "email" and value.lower().rsplit("@", 1)[1].endswith(ALLOWED_EMAIL_DOMAINS):
                continue
            yield kind, value


def mask(value: str) -> str:
    return value[:2] + "*" * max(0, len(value) - 4) + value[-2:]


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # a record that cannot be formatted cannot leak either
            self.lines.append(self.format(record))


_kept = _Keep()


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(_kept)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    logging.getLogger().removeHandler(_kept)
    sources: list[tuple[str, str]] = [("log record", line) for line in _kept.lines]
    base = session.config._tmp_path_factory.getbasetemp() if hasattr(session.config, "_tmp_path_factory") else None
    if base is not None and Path(base).exists():
        for path in Path(base).glob("**/logs/*.log"):
            text = path.read_text(encoding="utf-8", errors="replace")
            sources.extend((str(path.relative_to(base)), line) for line in text.splitlines())
    from prometheus_client import REGISTRY, generate_latest

    sources.append(("metrics", generate_latest(REGISTRY).decode()))
    leaks = [(where, kind, mask(value)) for where, text in sources for kind, value in find_pii(text)]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("-", f"PII scan: {len(sources)} log lines and metrics scanned, {len(leaks)} leak(s)")
        for where, kind, value in leaks[:20]:
            reporter.write_line(f"  PII LEAK ({kind}) {value} in {where}", red=True)
    record_figures("pii_scan", lines_scanned=len(sources), leaks=len(leaks))
    if leaks and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def record_figures(name: str, **figures: object) -> None:
    """Append a test's figures (requests sent, acknowledged, 503s seen...) to the JSON-lines file named by
    ``SALESAI_RELIABILITY_RECORD``, for ``bench/reliability_report.py``; a no-op otherwise."""
    path = os.environ.get("SALESAI_RELIABILITY_RECORD")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"name": name, **figures}, ensure_ascii=False, default=str) + "\n")
