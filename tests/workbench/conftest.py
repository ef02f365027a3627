"""The real gateway (uvicorn on an ephemeral port, in a thread) in front of a real ingestion gRPC server, on a
real SQLite database, driven by Debian's Chromium through Playwright. Nothing of ours is faked."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect, sync_playwright

from gateway.__main__ import bind_socket
from gateway.auth import KeyStore
from gateway.config import GatewaySettings
from gateway.main import create_app
from services.common.roles import Role
from services.common.server import GrpcServer
from services.ingestion.config import IngestionSettings
from services.ingestion.redaction import RedactionConfig, Redactor
from services.ingestion.server import create_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the embedded default. The API tests (tests/annotation) cover PostgreSQL."""
    return f"sqlite:///{tmp_path}/workbench.db"


@pytest.fixture(scope="session")
def redactor() -> Redactor:
    return Redactor(RedactionConfig(use_spacy=False))


@pytest.fixture
def ingestion(migrated_url: str, secrets_env: dict[str, str], redactor: Redactor) -> Iterator[GrpcServer]:
    server, _ = create_server(IngestionSettings(port=0, database_url=migrated_url), redactor=redactor)
    server.start()
    yield server
    server.stop(0)


def _closed_port() -> int:
    """A local port nothing listens on: the inference service is absent, so loads carry no pre-annotation."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Gateway:
    url: str
    app: FastAPI

    def key(self, role: Role, name: str, tenant: str = "acme") -> str:
        keys: KeyStore = self.app.state.keys
        return keys.create(tenant, role, name=name).token

    def api(self, token: str) -> httpx.Client:
        """A plain HTTP client of the same gateway, to check what the browser stored."""
        return httpx.Client(base_url=f"{self.url}/v1/workbench", headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def gateway(migrated_url: str, ingestion: GrpcServer) -> Iterator[Gateway]:
    settings = GatewaySettings(
        database_url=migrated_url,
        ingestion_url=f"127.0.0.1:{ingestion.port}",
        inference_url=f"127.0.0.1:{_closed_port()}",
        deadline_seconds=5,
        key_cache_seconds=0,
        rate_limit="",
    )
    app = create_app(settings)
    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the gateway did not start")
        time.sleep(0.02)
    yield Gateway(f"http://127.0.0.1:{sock.getsockname()[1]}", app)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():  # Playwright's own browser download is impossible here; .ci/run installs Debian's
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Workbench:
    """One person's browser tab on the workbench (own context: own sessionStorage, own key)."""

    def __init__(self, page: Page, base_url: str, who: str) -> None:
        self.page, self.base_url, self.who = page, base_url, who
        self.console: list[str] = []
        page.on("console", lambda message: self.console.append(message.text))
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))

    def sign_in(self, token: str, signed_in: bool = True) -> None:
        """Open /workbench (the redirect adds the slash), paste the key, press Enter."""
        self.page.goto(f"{self.base_url}/workbench")
        self.page.locator("#api-key").focus()
        self.page.keyboard.type(token)
        self.page.keyboard.press("Enter")
        if signed_in:
            expect(self.page.locator("#who-role")).to_be_visible()

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def idle(self) -> None:
        self.page.wait_for_function("document.getElementById('view').getAttribute('aria-busy') !== 'true'")

    @property
    def item_id(self) -> str:
        return self.page.get_attribute("#view", "data-item-id") or ""

    def press(self, key: str) -> None:
        """Press a key that moves to another item and wait until the view shows it (or the empty queue)."""
        before = self.item_id
        self.page.keyboard.press(key)
        self.page.wait_for_function(
            "before => { const v = document.getElementById('view');"
            " return v.getAttribute('aria-busy') !== 'true' && (v.dataset.itemId ?? '') !== before; }",
            arg=before,
        )

    def item_text(self) -> str:
        return self.page.locator("#item-text").text_content() or ""

    def hotkey(self, label: str) -> str:
        return self.page.locator(f".label-button[data-label='{label}'] kbd").inner_text()

    def page_console(self) -> list[str]:
        """Console lines the page itself wrote, or its uncaught errors: there should be none. (Chromium's own
        "Failed to load resource" lines for 403/404 replies, e.g. the role probes, are not the page's.)"""
        return [line for line in self.console if not line.startswith("Failed to load resource")]

    def errors(self) -> str:
        box = self.page.locator("#error")
        return box.inner_text() if box.is_visible() else ""


@pytest.fixture
def open_workbench(browser: Browser, gateway: Gateway) -> Iterator[Callable[[str], Workbench]]:
    """Factory: ``open_workbench("labeller-1")`` -> a Workbench in a fresh browser context."""
    contexts = []

    def open_one(who: str) -> Workbench:
        context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
        contexts.append(context)
        return Workbench(context.new_page(), gateway.url, who)

    yield open_one
    for context in contexts:
        context.close()
