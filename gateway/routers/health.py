"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.deps import BackendsDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the gateway process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: every backing gRPC service reports SERVING")
async def readyz(backends: BackendsDep) -> JSONResponse:
    services = await backends.health()
    ready = all(status == "SERVING" for status in services.values())
    body = {"status": "ready" if ready else "not_ready", "services": services}
    return JSONResponse(body, status_code=200 if ready else 503, headers=None if ready else {"Retry-After": "2"})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
