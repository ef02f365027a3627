"""The signed webhook channel against a real local HTTP receiver: signature, retries, idempotency, delivery log."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from services.common.storage.models import SuggestionDelivery
from services.suggestions import LeadContext
from services.suggestions.channels import ChannelConfig, build_channel
from services.suggestions.delivery import Deliverer, RetryPolicy
from services.suggestions.signing import InvalidSignature, verify

SECRET = "whsec-test"


@pytest.fixture
def suggestion(engine, make_interaction, now):
    msg = make_interaction(
        "m1", "Hi <PERSON_1>, we are comparing you with two vendors.", hours_ago=1, intent="comparing_options"
    )
    (s,) = engine.suggest(LeadContext(tenant_id="acme", lead_id="lead-1"), [msg], now=now)
    return s


@pytest.fixture
def deliverer(db) -> Iterator[tuple[Deliverer, list[float]]]:
    delays: list[float] = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)
        time.sleep(min(seconds, 0.05))

    policy = RetryPolicy(max_attempts=3, base_delay_s=0.01, factor=2.0, timeout_s=5)
    d = Deliverer(db, policy=policy, sleep=sleep)
    yield d, delays
    d.client.close()


def channel(url: str):
    return build_channel(ChannelConfig(name="crm-hook", kind="webhook", url=url, secret=SECRET))


def log_rows(db) -> list[SuggestionDelivery]:
    with db.session() as session:
        return list(session.scalars(select(SuggestionDelivery)))


def test_delivered_signed_and_logged(receiver, deliverer, suggestion, db) -> None:
    d, _ = deliverer
    result = d.deliver(suggestion, channel(receiver.url))
    assert (result.status, result.attempts, result.last_status_code) == ("delivered", 1, 200)
    ((headers, body),) = receiver.requests
    verify(headers, body, SECRET)  # the receiver's check passes
    with pytest.raises(InvalidSignature):
        verify(headers, body + b" ", SECRET)
    with pytest.raises(InvalidSignature):
        verify(headers, body, "another-secret")
    sent = json.loads(body)
    assert sent["type"] == "salesai.suggestion" and sent["auto_send"] is False
    assert sent["suggestion"]["suggestion_id"] == suggestion.id
    assert sent["suggestion"]["draft"].startswith("[AI draft — edit before sending]")
    assert headers["Idempotency-Key"] == sent["idempotency_key"] == result.idempotency_key
    (row,) = log_rows(db)
    assert (row.status, row.attempts, row.channel, row.kind, row.last_error) == (
        "delivered",
        1,
        "crm-hook",
        "webhook",
        "",
    )
    assert row.delivered_at is not None and row.suggestion_id == suggestion.id


def test_a_500_is_retried_with_backoff_and_the_same_idempotency_key(receiver, deliverer, suggestion, db) -> None:
    d, delays = deliverer
    receiver.statuses = [500, 429]
    result = d.deliver(suggestion, channel(receiver.url))
    assert (result.status, result.attempts) == ("delivered", 3)
    assert len(receiver.requests) == 3
    keys = {h["Idempotency-Key"] for h, _ in receiver.requests}
    assert keys == {result.idempotency_key}
    assert [h["X-SalesAI-Attempt"] for h, _ in receiver.requests] == ["1", "2", "3"]
    for headers, body in receiver.requests:
        verify(headers, body, SECRET)  # every attempt is signed afresh
    assert delays == [0.01, 0.0]  # exponential base, then the receiver's Retry-After: 0
    (row,) = log_rows(db)
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 3, 200)


def test_a_delivered_suggestion_is_not_sent_twice(receiver, deliverer, suggestion) -> None:
    d, _ = deliverer
    first = d.deliver(suggestion, channel(receiver.url))
    again = d.deliver(suggestion, channel(receiver.url))
    assert again.skipped and again.idempotency_key == first.idempotency_key
    assert len(receiver.requests) == 1


def test_retries_give_up_and_client_errors_are_not_retried(receiver, deliverer, suggestion, db) -> None:
    d, _ = deliverer
    receiver.statuses = [503, 503, 503]
    failed = d.deliver(suggestion, channel(receiver.url))
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 3, "HTTP 503")
    receiver.statuses = [400]
    again = d.deliver(suggestion, channel(receiver.url))  # a later retry of the same delivery
    assert (again.status, again.attempts, again.last_status_code) == ("failed", 4, 400)
    assert len(receiver.requests) == 4


def test_an_unreachable_receiver_is_logged_without_a_body(deliverer, suggestion, db) -> None:
    d, _ = deliverer
    result = d.deliver(suggestion, channel("http://127.0.0.1:9/nothing-listens-here"))
    assert result.status == "failed" and result.attempts == 3 and result.last_error == "ConnectError"


def test_a_body_with_a_raw_phone_number_is_blocked(receiver, deliverer, suggestion, db) -> None:
    d, _ = deliverer
    leaky = suggestion.model_copy(update={"title": "Call 13812345678 now"})
    result = d.deliver(leaky, channel(receiver.url))
    assert result.status == "blocked" and "CN_MOBILE" in result.last_error
    assert receiver.requests == []
    assert "13812345678" not in log_rows(db)[0].last_error
