"""The one domain error hierarchy of salesai.

Every error a caller can cause or should know about is one of these. The gRPC interceptor
(:mod:`services.common.interceptors`) and the gateway's exception handler translate them at the
boundary, using the ``grpc_code`` / ``http_status`` each class declares here — nowhere else::

    SalesAIError                      INTERNAL            500
    ├── InvalidArgument               INVALID_ARGUMENT    422
    │   └── PayloadTooLarge           INVALID_ARGUMENT    413
    ├── Unauthenticated               UNAUTHENTICATED     401
    ├── PermissionDenied              PERMISSION_DENIED   403
    ├── NotFound                      NOT_FOUND           404
    ├── AlreadyExists                 ALREADY_EXISTS      409
    ├── FailedPrecondition            FAILED_PRECONDITION 409
    ├── ResourceExhausted             RESOURCE_EXHAUSTED  429
    └── Unavailable                   UNAVAILABLE         503
        └── DeadlineExceeded          DEADLINE_EXCEEDED   504

Messages are shown to callers: they say what to fix and never contain raw PII or secrets.
"""

from __future__ import annotations

import grpc


class SalesAIError(Exception):
    """Base class. An unexpected failure; callers see a generic message."""

    grpc_code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    http_status: int = 500
    #: Machine-readable reason, stable across releases (e.g. ``text_too_large``).
    reason: str = "internal"
    #: seconds a client should wait before retrying (sent as ``Retry-After``), when known
    retry_after: int | None = None

    def __init__(self, message: str, *, reason: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if reason is not None:
            self.reason = reason


class InvalidArgument(SalesAIError):
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 422
    reason = "invalid_argument"


class PayloadTooLarge(InvalidArgument):
    http_status = 413
    reason = "payload_too_large"


class Unauthenticated(SalesAIError):
    grpc_code = grpc.StatusCode.UNAUTHENTICATED
    http_status = 401
    reason = "unauthenticated"


class PermissionDenied(SalesAIError):
    grpc_code = grpc.StatusCode.PERMISSION_DENIED
    http_status = 403
    reason = "permission_denied"


class NotFound(SalesAIError):
    grpc_code = grpc.StatusCode.NOT_FOUND
    http_status = 404
    reason = "not_found"


class AlreadyExists(SalesAIError):
    grpc_code = grpc.StatusCode.ALREADY_EXISTS
    http_status = 409
    reason = "already_exists"


class FailedPrecondition(SalesAIError):
    grpc_code = grpc.StatusCode.FAILED_PRECONDITION
    http_status = 409
    reason = "failed_precondition"


class ResourceExhausted(SalesAIError):
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    http_status = 429
    reason = "resource_exhausted"


class Unavailable(SalesAIError):
    grpc_code = grpc.StatusCode.UNAVAILABLE
    http_status = 503
    reason = "unavailable"


class DeadlineExceeded(Unavailable):
    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED
    http_status = 504
    reason = "deadline_exceeded"


_BY_GRPC_CODE: dict[grpc.StatusCode, type[SalesAIError]] = {
    cls.grpc_code: cls
    for cls in (
        InvalidArgument,
        Unauthenticated,
        PermissionDenied,
        NotFound,
        AlreadyExists,
        FailedPrecondition,
        ResourceExhausted,
        Unavailable,
        DeadlineExceeded,
    )
}


def from_database(err: BaseException) -> SalesAIError | None:
    """The domain error a database failure stands for, or None when it is a bug (an internal error).

    * a lost or refused connection (a restart, a failover) → retryable :class:`Unavailable`;
    * a value the database cannot store (a NUL character in PostgreSQL text, a number out of range) → the
      caller's :class:`InvalidArgument`.

    What the driver said stays out of the message: it can hold the server's address or quote the value."""
    from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError

    if isinstance(err, DataError):
        return InvalidArgument("a value cannot be stored (e.g. it holds a NUL character or is out of range)")
    transient = isinstance(err, InterfaceError) or (isinstance(err, DBAPIError) and err.connection_invalidated)
    if isinstance(err, OperationalError):
        # PostgreSQL drivers raise it for lost connections only (a missing table is a ProgrammingError);
        # SQLite raises it for a missing table too, which is a bug, not an outage: only a busy file is retryable.
        driver = type(err.orig).__module__
        transient = not driver.startswith("sqlite3") or any(w in str(err.orig) for w in ("locked", "busy"))
    return Unavailable("the database is unavailable; retry shortly") if transient else None


def from_grpc(code: grpc.StatusCode, details: str | None) -> SalesAIError:
    """Rebuild the domain error a service raised from the status a client received."""
    cls = _BY_GRPC_CODE.get(code, SalesAIError)
    if cls is SalesAIError:
        return SalesAIError("internal error in a backing service", reason="internal")
    if code == grpc.StatusCode.INVALID_ARGUMENT and details and details.startswith("payload_too_large:"):
        cls = PayloadTooLarge
    reason, _, message = (details or "").partition(":")
    return cls(message.strip() or cls.reason, reason=reason or cls.reason)


def to_grpc_details(err: SalesAIError) -> str:
    """The status details string a service sends: ``<reason>: <message>``."""
    return f"{err.reason}: {err.message}"
