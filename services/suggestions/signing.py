"""HMAC-SHA256 signatures of webhook deliveries and of the callbacks of the rep's buttons.

Headers of a signed request (deliveries we send and callbacks we accept use the same scheme)::

    X-SalesAI-Timestamp: 1732350000                 # Unix seconds when the request was signed
    X-SalesAI-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>
    Idempotency-Key: <32 hex>                       # deliveries: the same across every retry of one delivery

A receiver recomputes the HMAC over the exact raw body bytes, compares in constant time and rejects a
timestamp more than five minutes away from its clock (replays). Several ``v1=`` values separated by commas
are accepted, so a secret can be rotated without downtime.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence

from services.common.errors import Unauthenticated

TIMESTAMP_HEADER = "X-SalesAI-Timestamp"
SIGNATURE_HEADER = "X-SalesAI-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
ATTEMPT_HEADER = "X-SalesAI-Attempt"
DEFAULT_TOLERANCE_S = 300


class InvalidSignature(Unauthenticated):
    reason = "invalid_signature"


class ExpiredSignature(InvalidSignature):
    reason = "expired_signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def signed_headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, timestamp, body)}


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup over any mapping (a dict, Starlette's or httpx's headers)."""
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def check_timestamp(raw: str | None, now: float | None, tolerance_s: int) -> int:
    try:
        timestamp = int(raw or "")
    except ValueError:
        raise InvalidSignature("missing or malformed signature timestamp") from None
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        raise ExpiredSignature("signature timestamp is outside the accepted window; re-sign the request")
    return timestamp


def verify(
    headers: Mapping[str, str],
    body: bytes,
    secrets: str | Sequence[str],
    *,
    now: float | None = None,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> None:
    """Raise :class:`InvalidSignature` / :class:`ExpiredSignature` unless ``body`` is signed by one of ``secrets``."""
    timestamp = check_timestamp(header(headers, TIMESTAMP_HEADER), now, tolerance_s)
    given = [v.strip() for v in (header(headers, SIGNATURE_HEADER) or "").split(",") if v.strip()]
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    expected = [sign(key, timestamp, body) for key in keys if key]
    if not any(hmac.compare_digest(g, e) for g in given for e in expected):
        raise InvalidSignature("bad signature")
