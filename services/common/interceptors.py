"""The gRPC server interceptor every salesai service runs.

For each RPC it: takes the caller's ``x-request-id`` (or makes one) and echoes it back; maps the domain
error hierarchy (:mod:`services.common.errors`) to status codes — the one place that happens; turns any
other exception into INTERNAL with a message that holds only the request id; writes one access-log line
(method, code, duration; never the payload) and records Prometheus metrics.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from services.common.errors import SalesAIError, Unavailable, from_database, to_grpc_details
from services.common.logging import request_id_var
from services.common.metrics import RPC_HANDLED, RPC_LATENCY, split_method

log = logging.getLogger("salesai.access")

REQUEST_ID_KEY = "x-request-id"


class _Call:
    """Bookkeeping for one RPC: request id, timing, final code."""

    def __init__(self, method: str, context: grpc.ServicerContext) -> None:
        self.method = method
        self.context = context
        self.code = grpc.StatusCode.OK
        self.started = time.perf_counter()
        metadata = dict(context.invocation_metadata() or ())
        self.request_id = str(metadata.get(REQUEST_ID_KEY) or uuid.uuid4().hex)[:64]
        self.token = request_id_var.set(self.request_id)
        context.send_initial_metadata(((REQUEST_ID_KEY, self.request_id),))

    def fail(self, err: BaseException) -> None:
        """Abort the RPC with the status ``err`` maps to. Always raises."""
        if (mapped := from_database(err)) is not None:
            if isinstance(mapped, Unavailable):
                log.warning("database unavailable in %s: %s", self.method, type(err).__name__)
            err = mapped
        if isinstance(err, SalesAIError) and type(err) is not SalesAIError:
            self.code = err.grpc_code
            self.context.abort(err.grpc_code, to_grpc_details(err))
        self.code = grpc.StatusCode.INTERNAL
        log.error("unhandled error in %s", self.method, exc_info=err)
        self.context.abort(grpc.StatusCode.INTERNAL, f"internal: internal error (request id {self.request_id})")

    def finish(self) -> None:
        elapsed = time.perf_counter() - self.started
        service, method = split_method(self.method)
        RPC_HANDLED.labels(service, method, self.code.name).inc()
        RPC_LATENCY.labels(service, method).observe(elapsed)
        log.info(
            "rpc",
            extra={"method": self.method, "code": self.code.name, "duration_ms": round(elapsed * 1000, 2)},
        )
        request_id_var.reset(self.token)


def _is_abort(err: BaseException, call: _Call) -> bool:
    # context.abort() raises a bare Exception after setting the status; let it through untouched.
    return type(err) is Exception and call.context.code() is not None


def _wrap_unary_response(fn: Callable[..., Any], method: str) -> Callable[..., Any]:
    def handler(request: Any, context: grpc.ServicerContext) -> Any:
        call = _Call(method, context)
        try:
            return fn(request, context)
        except Exception as err:
            if _is_abort(err, call):
                call.code = context.code()
                raise
            call.fail(err)
        finally:
            call.finish()

    return handler


def _wrap_stream_response(fn: Callable[..., Iterator[Any]], method: str) -> Callable[..., Iterator[Any]]:
    def handler(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        call = _Call(method, context)
        try:
            yield from fn(request, context)
        except Exception as err:
            if _is_abort(err, call):
                call.code = context.code()
                raise
            call.fail(err)
        finally:
            call.finish()

    return handler


class ServerInterceptor(grpc.ServerInterceptor):
    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(("/grpc.health", "/grpc.reflection")):
            return handler
        serdes = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(_wrap_unary_response(handler.unary_unary, method), **serdes)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(_wrap_unary_response(handler.stream_unary, method), **serdes)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(_wrap_stream_response(handler.unary_stream, method), **serdes)
        return grpc.stream_stream_rpc_method_handler(_wrap_stream_response(handler.stream_stream, method), **serdes)
