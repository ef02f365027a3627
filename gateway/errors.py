"""The one place errors become HTTP responses: domain errors, gRPC errors from services, bad requests.

Body: ``{"error": {"reason": ..., "message": ..., "field": ...}, "request_id": ...}``. Unexpected errors
become a 500 whose body holds only the request id; the log gets the exception type, never the input.
"""

from __future__ import annotations

import logging

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.errors import SalesAIError, Unavailable, from_database, from_grpc
from services.common.logging import request_id_var

log = logging.getLogger("salesai.gateway")

RETRY_AFTER_SECONDS = "2"


def error_response(err: SalesAIError) -> JSONResponse:
    body = {
        "error": {"reason": err.reason, "message": err.message, "field": err.field},
        "request_id": request_id_var.get(),
    }
    retry_after = getattr(err, "retry_after", None) or (RETRY_AFTER_SECONDS if isinstance(err, Unavailable) else None)
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return JSONResponse(body, status_code=err.http_status, headers=headers)


async def _domain_error(_request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, SalesAIError)
    if type(err) is SalesAIError:
        log.error("internal error", exc_info=err)
        err = SalesAIError("internal error")
    return error_response(err)


async def _grpc_error(_request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, grpc.aio.AioRpcError)
    code = err.code()
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
        return error_response(Unavailable("a backing service is unavailable; retry shortly"))
    return error_response(from_grpc(code, err.details()))


async def _validation_error(_request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, RequestValidationError)
    problems = [
        {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "message": e.get("msg", "")}
        for e in err.errors()
    ]
    message = "; ".join(f"{p['field'] or 'body'}: {p['message']}" for p in problems) or "invalid request"
    # A body that is not JSON at all is a malformed request (400); JSON of the wrong shape is 422.
    malformed = any(e.get("type") == "json_invalid" for e in err.errors())
    body = {
        "error": {
            "reason": "malformed_body" if malformed else "invalid_argument",
            "message": "the request body is not valid UTF-8 JSON" if malformed else message,
            "field": None,
            "problems": problems,
        },
        "request_id": request_id_var.get(),
    }
    return JSONResponse(body, status_code=400 if malformed else 422)


async def _http_error(_request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, StarletteHTTPException)
    reason = _HTTP_REASONS.get(err.status_code, "http_error")
    message = "the request body is not valid UTF-8 JSON" if reason == "malformed_body" else str(err.detail)
    body = {"error": {"reason": reason, "message": message, "field": None}, "request_id": request_id_var.get()}
    return JSONResponse(body, status_code=err.status_code, headers=err.headers)


_HTTP_REASONS = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 400: "malformed_body"}


async def _unexpected(_request: Request, err: Exception) -> JSONResponse:
    if (mapped := from_database(err)) is not None:  # the key store while PostgreSQL restarts, a NUL in an id
        if isinstance(mapped, Unavailable):
            log.warning("database unavailable: %s", type(err).__name__)
        return error_response(mapped)
    log.error("unhandled error", exc_info=err)
    return error_response(SalesAIError("internal error"))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SalesAIError, _domain_error)
    app.add_exception_handler(grpc.aio.AioRpcError, _grpc_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
