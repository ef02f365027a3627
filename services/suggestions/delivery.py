"""Deliver suggestions to channels: idempotency key, HMAC signing (by the channel), retries with exponential
backoff, and a delivery log row per (suggestion, channel) in ``suggestion_deliveries``.

* The idempotency key is derived from (tenant, suggestion id, channel name): the same across retries and across
  re-evaluations of the same history, so a receiver can drop duplicates — and a delivery that already
  succeeded is never sent again.
* Retried: transport errors, timeouts, 408, 425, 429 and 5xx. ``Retry-After`` (seconds) is honoured up to
  ``max_delay_s``. Other responses fail at once. Delay before attempt n+1: ``min(max_delay_s, base_delay_s ×
  factor^(n-1))``.
* The log keeps attempts, status (``pending`` / ``delivered`` / ``failed`` / ``blocked``), the last HTTP status and
  a short error (``HTTP 500``, ``ConnectTimeout``) — never a body.
* Nothing is dropped when a chat tool is down for longer than the retries last: :meth:`Deliverer.redeliver` (run
  by the periodic scan) sends again every delivery left ``pending`` (a process that died mid-retry) or ``failed``
  for a retryable reason, under the same idempotency key. Client errors (a wrong URL, a 403) stay ``failed``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.common.storage import Database
from services.common.storage.models import SuggestionDelivery, utcnow
from services.suggestions.channels import Channel, OutgoingSuggestion
from services.suggestions.domain import Suggestion
from services.suggestions.guard import raw_pii_types
from services.suggestions.signing import ATTEMPT_HEADER

RETRY_STATUS = frozenset({408, 425, 429})

log = logging.getLogger(__name__)


class RetryPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts: int = Field(default=4, ge=1, le=20)
    base_delay_s: float = Field(default=0.5, ge=0)
    factor: float = Field(default=2.0, ge=1)
    max_delay_s: float = Field(default=30.0, ge=0)
    timeout_s: float = Field(default=5.0, gt=0)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(self.max_delay_s, max(0.0, retry_after))
        return min(self.max_delay_s, self.base_delay_s * self.factor ** (attempt - 1))


@dataclass(frozen=True)
class DeliveryResult:
    channel: str
    suggestion_id: str
    idempotency_key: str
    status: str
    attempts: int
    last_status_code: int | None = None
    last_error: str = ""
    skipped: bool = False  # delivered earlier; nothing was sent now


@dataclass(frozen=True)
class _Outcome:
    done: bool
    retryable: bool
    status_code: int | None = None
    error: str = ""
    retry_after: float | None = None


def idempotency_key(tenant_id: str, suggestion_id: str, channel: str) -> str:
    return hashlib.sha256(f"{tenant_id}\x1f{suggestion_id}\x1f{channel}".encode()).hexdigest()[:32]


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


class Deliverer:
    def __init__(
        self,
        db: Database,
        *,
        client: httpx.Client | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.policy = policy or RetryPolicy()
        self.client = client or httpx.Client(timeout=self.policy.timeout_s, follow_redirects=False)
        self.sleep = sleep
        self.clock = clock

    def deliver(self, suggestion: Suggestion, channel: Channel) -> DeliveryResult:
        """Send ``suggestion`` to ``channel`` (once: a delivered key is skipped), retrying as the policy says."""
        key = idempotency_key(suggestion.tenant_id, suggestion.id, channel.name)
        row = self._row(suggestion, channel, key)
        if row.status == "delivered":
            return _result(row, skipped=True)
        message = OutgoingSuggestion.from_suggestion(suggestion)
        found = raw_pii_types(channel.request(message, idempotency_key=key, now=self.clock()).body.decode())
        if found:
            return self._update(key, status="blocked", error=f"refused: raw {', '.join(found)} in the body")
        attempts = row.attempts
        for n in range(1, self.policy.max_attempts + 1):
            attempts += 1
            outcome = self._attempt(channel, message, key, attempts)
            if outcome.done:
                return self._update(key, status="delivered", attempts=attempts, outcome=outcome)
            if not outcome.retryable or n == self.policy.max_attempts:
                return self._update(key, status="failed", attempts=attempts, outcome=outcome)
            self._update(key, status="pending", attempts=attempts, outcome=outcome)
            self.sleep(self.policy.delay(n, outcome.retry_after))
        raise AssertionError("unreachable")  # pragma: no cover

    def redeliver(
        self, channels: Sequence[Channel], load: Callable[[str], Suggestion | None], *, limit: int = 200
    ) -> list[DeliveryResult]:
        """Send again what a channel outage (or a crash mid-retry) left undelivered, oldest first."""
        by_name = {c.name: c for c in channels}
        if not by_name:
            return []
        with self.db.session() as session:
            rows = session.scalars(
                select(SuggestionDelivery)
                .where(SuggestionDelivery.status.in_(("pending", "failed")))
                .where(SuggestionDelivery.channel.in_(by_name))
                .order_by(SuggestionDelivery.created_at)
                .limit(limit)
            ).all()
        results = []
        for row in rows:
            code = row.last_status_code
            if row.status == "failed" and code is not None and not _retryable(code):
                continue
            suggestion = load(row.suggestion_id)
            if suggestion is None:  # erased since (e.g. the customer asked): nothing to send
                self._update(row.idempotency_key, status="failed", error="suggestion no longer exists")
                continue
            results.append(self.deliver(suggestion, by_name[row.channel]))
        if results:
            done = sum(r.status == "delivered" for r in results)
            log.info("re-delivery sweep: %d of %d undelivered suggestions delivered", done, len(results))
        return results

    def _attempt(self, channel: Channel, message: OutgoingSuggestion, key: str, attempt: int) -> _Outcome:
        request = channel.request(message, idempotency_key=key, now=self.clock())
        headers = {**request.headers, ATTEMPT_HEADER: str(attempt)}
        try:
            response = self.client.post(request.url, content=request.body, headers=headers)
        except httpx.HTTPError as err:
            return _Outcome(False, True, error=type(err).__name__)
        code = response.status_code
        if 200 <= code < 300:
            error = channel.body_error(response)
            return _Outcome(error is None, False, code, error or "")
        return _Outcome(False, _retryable(code), code, f"HTTP {code}", _retry_after(response))

    def _row(self, suggestion: Suggestion, channel: Channel, key: str) -> SuggestionDelivery:
        with self.db.session() as session:
            row = session.scalar(select(SuggestionDelivery).where(SuggestionDelivery.idempotency_key == key))
            if row is not None:
                return row
        try:
            with self.db.session() as session:
                row = SuggestionDelivery(
                    tenant_id=suggestion.tenant_id,
                    suggestion_id=suggestion.id,
                    channel=channel.name,
                    kind=channel.kind,
                    idempotency_key=key,
                    attempts=0,
                    status="pending",
                    last_error="",
                )
                session.add(row)
            return row
        except IntegrityError:  # a concurrent delivery created it first
            return self._row(suggestion, channel, key)

    def _update(
        self, key: str, *, status: str, attempts: int | None = None, outcome: _Outcome | None = None, error: str = ""
    ) -> DeliveryResult:
        with self.db.session() as session:
            row = session.scalars(select(SuggestionDelivery).where(SuggestionDelivery.idempotency_key == key)).one()
            row.status = status
            if attempts is not None:
                row.attempts = attempts
            if outcome is not None:
                row.last_status_code = outcome.status_code
                error = outcome.error
            row.last_error = error[:500]
            row.updated_at = utcnow()
            if status == "delivered":
                row.delivered_at = utcnow()
            elif status in ("failed", "blocked"):
                # the key and the reason only: never the body, the draft or the receiver's URL
                log.warning(
                    "delivery %s to channel %s %s after %d attempt(s): %s",
                    key[:12],
                    row.channel,
                    status,
                    row.attempts,
                    row.last_error,
                )
            return _result(row)


def _retryable(code: int) -> bool:
    return code in RETRY_STATUS or code >= 500


def _result(row: SuggestionDelivery, *, skipped: bool = False) -> DeliveryResult:
    return DeliveryResult(
        channel=row.channel,
        suggestion_id=row.suggestion_id,
        idempotency_key=row.idempotency_key,
        status=row.status,
        attempts=row.attempts,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        skipped=skipped,
    )
