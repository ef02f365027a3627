"""Fixtures: a fixed clock, an interaction factory, the default playbook and engine, a migrated database, a fake
Qdrant server."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.common.storage import Database
from services.suggestions import InteractionView, LeadContext, Prediction, Span, SuggestionEngine, load_playbook
from services.suggestions.feedback import SuggestionStore
from services.suggestions.playbook import Playbook

from ..fakes.qdrant_server import FakeQdrant, serve

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

MakeInteraction = Callable[..., InteractionView]


def _spans(text: str, words: tuple[str, ...]) -> tuple[Span, ...]:
    return tuple(Span(start=text.index(w), end=text.index(w) + len(w), text=w, weight=1.0) for w in words if w in text)


def interaction(
    id: str,
    text: str,
    *,
    hours_ago: float,
    intent: str | None = None,
    intent_confidence: float = 0.9,
    risk: str | None = None,
    risk_confidence: float = 0.8,
    language: str = "en",
    evidence_words: tuple[str, ...] = (),
) -> InteractionView:
    """A redacted message with intent/risk predictions; ``evidence_words`` become character spans of ``text``."""
    predictions = []
    if intent:
        spans = _spans(text, evidence_words)
        predictions.append(Prediction(task="intent", label=intent, confidence=intent_confidence, evidence=spans))
    if risk:
        predictions.append(Prediction(task="risk", label=risk, confidence=risk_confidence))
    return InteractionView(
        id=id,
        occurred_at=NOW - timedelta(hours=hours_ago),
        text=text,
        language=language,
        predictions=tuple(predictions),
    )


QDRANT_KEY = "test-qdrant-key"


@pytest.fixture(scope="module")
def fake_qdrant() -> Iterator[FakeQdrant]:
    """A fake Qdrant server (a system we do not own) on an ephemeral port; it needs ``QDRANT_KEY``."""
    with serve(api_key=QDRANT_KEY) as fake:
        yield fake


@pytest.fixture
def now() -> datetime:
    """The clock of every test: interactions are placed ``hours_ago`` before it."""
    return NOW


@pytest.fixture
def make_interaction() -> MakeInteraction:
    return interaction


@pytest.fixture
def lead() -> LeadContext:
    return LeadContext(tenant_id="acme", lead_id="lead-7")


@pytest.fixture(scope="session")
def playbook() -> Playbook:
    return load_playbook()


@pytest.fixture(scope="session")
def engine(playbook: Playbook) -> SuggestionEngine:
    return SuggestionEngine(playbook)


@pytest.fixture
def db(migrated_url: str) -> Iterator[Database]:
    database = Database(migrated_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def redact() -> Callable[[str], str]:
    """The real ingestion redactor (regex + jieba recognizers; spaCy off to stay fast)."""
    from services.ingestion.redaction import RedactionConfig, Redactor

    redactor = Redactor(RedactionConfig(use_spacy=False))
    return lambda text: redactor.redact(text).text


@pytest.fixture
def store(db: Database, redact: Callable[[str], str]) -> SuggestionStore:
    return SuggestionStore(db, redact)


@dataclass
class Receiver:
    """A webhook endpoint we do not own: answers with the queued statuses (then 200) and records every request."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((dict(self.headers.items()), body))
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/salesai"
    yield state
    server.shutdown()
    server.server_close()
