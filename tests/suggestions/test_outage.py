"""A chat tool down for longer than the retries last: every delivery is logged, retried by the sweep once the
tool is back, and delivered exactly once — nothing is dropped. A process that dies mid-retry loses nothing either.
"""

from __future__ import annotations

import logging
from collections import Counter

import pytest
from sqlalchemy import select

from services.common.storage.models import SuggestionDelivery
from services.suggestions import LeadContext
from services.suggestions.channels import ChannelConfig, build_channel
from services.suggestions.delivery import Deliverer, RetryPolicy
from services.suggestions.signing import IDEMPOTENCY_HEADER
from services.suggestions.triggers import SuggestionPipeline

from ..pii_leaks import record_figures

LEADS = [f"lead-{n}" for n in range(6)]


class Died(BaseException):
    """What a SIGKILL between two attempts looks like to the code that was running."""


def statuses(db) -> Counter[str]:
    with db.session() as session:
        return Counter(session.scalars(select(SuggestionDelivery.status)))


def fire_all(pipeline: SuggestionPipeline, make_interaction, now) -> int:
    sent = 0
    for lead_id in LEADS:
        history = [make_interaction(f"{lead_id}-m1", "Budget frozen.", hours_ago=0.1, intent="budget_freeze")]
        lead = LeadContext(tenant_id="acme", lead_id=lead_id)
        sent += len(pipeline.on_interaction(lead, history, now=now).deliveries)
    return sent


def delivered_keys(receiver) -> Counter[str]:
    """Idempotency keys of the requests the receiver got since its log was last cleared."""
    return Counter(headers[IDEMPOTENCY_HEADER] for headers, _ in receiver.requests)


@pytest.fixture
def make_pipeline(engine, store, db, receiver):
    made: list[Deliverer] = []

    def make(*, sleep=lambda _: None) -> SuggestionPipeline:
        deliverer = Deliverer(db, policy=RetryPolicy(max_attempts=3, base_delay_s=0), sleep=sleep)
        made.append(deliverer)
        hook = build_channel(ChannelConfig(name="hook", kind="webhook", url=receiver.url, secret="s"))
        return SuggestionPipeline(engine, store, deliverer, [hook])

    yield make
    for deliverer in made:
        deliverer.client.close()


def test_an_outage_longer_than_the_retries_loses_nothing(make_pipeline, make_interaction, now, db, receiver, caplog):
    pipeline = make_pipeline()
    receiver.statuses = [503] * 1000  # the chat tool is down
    with caplog.at_level(logging.WARNING, logger="services.suggestions.delivery"):
        sent = fire_all(pipeline, make_interaction, now)
    assert sent == len(LEADS) * 3
    assert statuses(db) == {"failed": sent}
    failures = [r for r in caplog.records if "failed after 3 attempt(s): HTTP 503" in r.getMessage()]
    assert len(failures) == sent
    assert not any("Budget" in r.getMessage() or receiver.url in r.getMessage() for r in caplog.records)

    assert {d.status for d in pipeline.redeliver()} == {"failed"}  # still down: tried again, still logged

    receiver.statuses.clear()  # the tool is back
    receiver.requests.clear()
    results = pipeline.redeliver()
    assert [r.status for r in results] == ["delivered"] * sent
    assert statuses(db) == {"delivered": sent}
    keys = delivered_keys(receiver)
    assert len(keys) == sent and set(keys.values()) == {1}  # each exactly once
    assert pipeline.redeliver() == []  # nothing left
    record_figures(
        "chat_tool_down",
        deliveries=sent,
        failed_and_logged_during_outage=len(failures),
        delivered_after_recovery=len(results),
        duplicates=sum(v - 1 for v in keys.values()),
        lost=sent - len(keys),
    )


def test_a_client_error_is_not_retried_by_the_sweep(make_pipeline, make_interaction, now, db, receiver):
    pipeline = make_pipeline()
    receiver.statuses = [400] * 1000  # e.g. a misconfigured hook: retrying cannot help, a human must look
    sent = fire_all(pipeline, make_interaction, now)
    receiver.requests.clear()
    assert pipeline.redeliver() == []
    assert receiver.requests == [] and statuses(db) == {"failed": sent}


def test_a_process_that_dies_between_retries_leaves_pending_rows_the_sweep_delivers(
    make_pipeline, make_interaction, now, db, receiver
):
    def die(_: float) -> None:
        raise Died

    dying = make_pipeline(sleep=die)
    receiver.statuses = [503]
    history = [make_interaction("m1", "Budget frozen.", hours_ago=0.1, intent="budget_freeze")]
    with pytest.raises(Died):
        dying.on_interaction(LeadContext(tenant_id="acme", lead_id="l1"), history, now=now)
    assert statuses(db) == {"pending": 1}  # stored before the first send; the others were never attempted

    restarted = make_pipeline()
    receiver.requests.clear()
    assert [r.status for r in restarted.redeliver()] == ["delivered"]
    # the suggestions it never reached are stored: re-evaluating the same history delivers them once
    again = restarted.on_interaction(LeadContext(tenant_id="acme", lead_id="l1"), history, now=now)
    assert sorted(d.skipped for d in again.deliveries) == [False, False, True]
    assert statuses(db) == {"delivered": 3}
    assert set(delivered_keys(receiver).values()) == {1}
