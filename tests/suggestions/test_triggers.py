"""Triggers: a new interaction fires every rule; the periodic scan fires time-based rules; nothing fires twice."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from services.common.storage.models import Suggestion as SuggestionRow
from services.common.storage.models import SuggestionDelivery
from services.suggestions import LeadContext
from services.suggestions.channels import ChannelConfig, build_channel
from services.suggestions.delivery import Deliverer, RetryPolicy
from services.suggestions.triggers import SuggestionPipeline, scan_forever


@pytest.fixture
def pipeline(engine, store, db, receiver) -> Iterator[SuggestionPipeline]:
    deliverer = Deliverer(db, policy=RetryPolicy(max_attempts=2, base_delay_s=0), sleep=lambda _: None)
    hook = build_channel(ChannelConfig(name="hook", kind="webhook", url=receiver.url, secret="s"))
    yield SuggestionPipeline(engine, store, deliverer, [hook])
    deliverer.client.close()


def count(db, table) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(table))


def test_a_new_interaction_fires_stores_and_delivers_once(pipeline, make_interaction, now, db, receiver) -> None:
    lead = LeadContext(tenant_id="acme", lead_id="l1")
    history = [make_interaction("m1", "Budget frozen.", hours_ago=0.1, intent="budget_freeze")]
    fired = pipeline.on_interaction(lead, history, now=now)
    assert {s.action for s in fired.suggestions} == {"pause_quote_pushes", "alert_manager", "offer_case_study"}
    assert [d.status for d in fired.deliveries] == ["delivered"] * 3
    again = pipeline.on_interaction(lead, history, now=now + timedelta(minutes=5))  # e.g. a re-sent event
    assert all(d.skipped for d in again.deliveries)
    assert len(receiver.requests) == 3 and count(db, SuggestionRow) == 3 and count(db, SuggestionDelivery) == 3


def test_the_periodic_scan_fires_only_time_based_rules(pipeline, make_interaction, now, receiver) -> None:
    hot = LeadContext(tenant_id="acme", lead_id="hot", score=0.9)
    cold = LeadContext(tenant_id="acme", lead_id="cold", score=0.2)
    stale = [make_interaction("m1", "Budget frozen.", hours_ago=72, intent="budget_freeze")]
    fired = pipeline.scan([(hot, stale), (cold, stale)], now=now)
    assert [(s.lead_id, s.action) for s in fired.suggestions] == [("hot", "follow_up_task")]
    assert pipeline.scan([(hot, stale)], now=now + timedelta(hours=1)).deliveries[0].skipped
    assert len(receiver.requests) == 1


def test_scan_forever_runs_until_stopped(pipeline, make_interaction) -> None:
    stop = threading.Event()
    calls: list[int] = []

    def load():
        calls.append(1)
        if len(calls) == 2:
            stop.set()
        if len(calls) == 1:
            raise RuntimeError("CRM unavailable")  # one failed scan does not end the loop
        return []

    scan_forever(pipeline, load, interval_s=0.01, stop=stop)
    assert len(calls) == 2


def test_scan_forever_skips_the_rounds_another_replica_holds_the_lock_for(pipeline, db, tmp_path) -> None:
    """N replicas, one scan per interval: a round runs only where the shared lock is held."""
    from services.common.storage import Database
    from services.common.storage.lock import try_exclusive

    other = Database(db.url)  # another replica's connection to the same database
    stop = threading.Event()
    calls: list[int] = []

    def load():
        calls.append(1)
        stop.set()
        return []

    with try_exclusive(other, "leads.stale-lead-scan") as held:
        assert held
        rounds = threading.Thread(
            target=scan_forever,
            args=(pipeline, load),
            kwargs={"interval_s": 0.01, "stop": stop, "exclusive": lambda: try_exclusive(db, "leads.stale-lead-scan")},
        )
        rounds.start()
        rounds.join(0.5)  # some fifty rounds, every one skipped: the other replica holds the lock
        assert calls == [] and rounds.is_alive()
    rounds.join(10)  # released: the next round scans
    assert calls == [1]
    other.dispose()
