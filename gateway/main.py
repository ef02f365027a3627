"""The gateway app: REST for CRM backends in front of the gRPC services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

import annotation
from gateway.auth import KeyStore
from gateway.backends import Backends
from gateway.config import GatewaySettings
from gateway.errors import install_error_handlers
from gateway.middleware import GatewayMiddleware
from gateway.ratelimit import RateLimiter
from gateway.routers import analyze, classification, health, interactions, jobs, leads, models, workbench
from services.common.secrets import load_secrets
from services.common.storage import Database, upgrade
from services.suggestions.engine import SuggestionEngine
from services.suggestions.playbook import load_playbook

# The workbench web UI: static files, no build step (annotation/web/README.md).
WORKBENCH_DIR = Path(annotation.__file__).resolve().parent / "web"


def create_app(settings: GatewaySettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upgrade(settings.resolved_database_url)
        db = Database(settings.resolved_database_url)
        app.state.db = db
        app.state.keys = KeyStore(db, load_secrets(settings).api_key_pepper, settings.key_cache_seconds)
        app.state.backends = Backends.connect(settings)
        app.state.limiter = RateLimiter(settings.rate_limit, settings.rate_limit_storage)
        app.state.suggestions = SuggestionEngine(load_playbook())
        yield
        await app.state.backends.close()
        db.dispose()

    app = FastAPI(
        title="salesai",
        version="0.1.0",
        lifespan=lifespan,
        description="PII-safe ingestion, classification, scoring and suggestions for sales conversations.",
    )
    app.add_middleware(GatewayMiddleware, max_body_bytes=settings.max_body_bytes)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(interactions.router)
    app.include_router(classification.router)
    app.include_router(models.router)
    app.include_router(jobs.router)
    app.include_router(analyze.router)
    app.include_router(leads.router)
    app.include_router(workbench.router)
    app.add_api_route("/workbench", lambda: RedirectResponse("/workbench/"), include_in_schema=False)
    app.mount("/workbench", StaticFiles(directory=WORKBENCH_DIR, html=True), name="workbench")
    return app
