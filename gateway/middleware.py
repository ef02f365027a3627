"""ASGI middleware: request ids, body-size limit, access log and Prometheus metrics (route templates only)."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import error_response
from services.common.errors import PayloadTooLarge
from services.common.logging import request_id_var

log = logging.getLogger("salesai.access")

HTTP_REQUESTS = Counter(
    "salesai_http_requests_total",
    "HTTP requests, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "salesai_http_request_duration_seconds",
    "HTTP request latency by route template.",
    ["route", "method"],
    buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class _BodyTooLarge(HTTPException):
    """Raised while the body streams in; an HTTPException so FastAPI's body parsing lets it through."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than {limit} bytes")


class GatewayMiddleware:
    """One pure-ASGI middleware so every request is measured exactly once, whatever it returns."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        request_id = (headers.get(b"x-request-id", b"").decode("latin-1")[:64]) or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started, status = time.perf_counter(), 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode("latin-1")))
            await send(message)

        try:
            declared = int(headers.get(b"content-length", b"0") or 0)
            if declared > self.max_body_bytes:
                raise _BodyTooLarge(self.max_body_bytes)
            await self.app(scope, self._limited(receive), send_wrapper)
        except _BodyTooLarge:
            limit = PayloadTooLarge(f"request body is larger than {self.max_body_bytes} bytes")
            await error_response(limit)(scope, receive, send_wrapper)
        finally:
            self._record(scope, status, time.perf_counter() - started)
            request_id_var.reset(token)

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise _BodyTooLarge(self.max_body_bytes)
            return message

        return limited_receive

    @staticmethod
    def _record(scope: Scope, status: int, elapsed: float) -> None:
        route: Any = scope.get("route")
        template = getattr(route, "path", "unmatched")
        method = scope.get("method", "")
        HTTP_REQUESTS.labels(template, method, str(status)).inc()
        HTTP_LATENCY.labels(template, method).observe(elapsed)
        log.info(
            "http",
            extra={"route": template, "method": method, "status": status, "duration_ms": round(elapsed * 1000, 2)},
        )
