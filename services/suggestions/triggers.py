"""When rules fire: on each new interaction (every rule) and on a periodic scan (time-based rules only, e.g.
a hot lead nobody has touched for 48 h). Fired suggestions are stored and delivered to every channel.

Re-firing is harmless: suggestion ids and idempotency keys are deterministic, so a rule that still holds on
the next scan yields the same suggestion, which is neither stored twice nor delivered twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime

from services.suggestions.channels import Channel
from services.suggestions.delivery import Deliverer, DeliveryResult
from services.suggestions.domain import InteractionView, LeadContext, Suggestion
from services.suggestions.engine import SuggestionEngine
from services.suggestions.feedback import SuggestionStore

log = logging.getLogger(__name__)

LeadHistory = tuple[LeadContext, Sequence[InteractionView]]


@dataclass(frozen=True)
class Fired:
    suggestions: list[Suggestion]
    deliveries: list[DeliveryResult]


class SuggestionPipeline:
    def __init__(
        self,
        engine: SuggestionEngine,
        store: SuggestionStore,
        deliverer: Deliverer | None = None,
        channels: Sequence[Channel] = (),
        *,
        min_confidence: float = 0.0,
        executor: Executor | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.deliverer = deliverer
        self.channels = tuple(channels)
        self.min_confidence = min_confidence
        #: when set, deliveries run there and ``Fired.deliveries`` is empty: a caller answering an RPC must not
        #: wait for a chat tool's retries (what fails is left pending for the re-delivery sweep)
        self.executor = executor

    def on_interaction(
        self, lead: LeadContext, history: Sequence[InteractionView], *, now: datetime | None = None
    ) -> Fired:
        """A new message arrived for ``lead``: evaluate every rule on its recent history."""
        return self._fire(self.engine.suggest(lead, history, now=now))

    def scan(self, leads: Iterable[LeadHistory], *, now: datetime | None = None) -> Fired:
        """Periodic scan: evaluate the time-based rules on each lead."""
        rules = self.engine.playbook.time_based_rules
        now = now or datetime.now(UTC)
        fired = [s for lead, history in leads for s in self.engine.suggest(lead, history, now=now, rules=rules)]
        return self._fire(fired)

    def redeliver(self) -> list[DeliveryResult]:
        """Deliver again what an outage of a chat tool left undelivered (see :meth:`Deliverer.redeliver`)."""
        if self.deliverer is None:
            return []
        return self.deliverer.redeliver(self.channels, self.store.load)

    def _fire(self, suggestions: list[Suggestion]) -> Fired:
        kept = [s for s in suggestions if s.confidence >= self.min_confidence]
        self.store.save(kept)
        deliveries: list[DeliveryResult] = []
        if self.deliverer is not None and self.channels:
            if self.executor is not None:
                self.executor.submit(self._deliver_quietly, kept)
            else:
                deliveries = [self.deliverer.deliver(s, channel) for s in kept for channel in self.channels]
        return Fired(kept, deliveries)

    def _deliver_quietly(self, suggestions: list[Suggestion]) -> None:
        assert self.deliverer is not None
        for suggestion in suggestions:
            for channel in self.channels:
                try:
                    self.deliverer.deliver(suggestion, channel)
                except Exception as err:  # noqa: BLE001 - the re-delivery sweep retries what is left pending
                    # the type only: a chat tool's URL (Slack's holds a token) may sit in the message
                    log.error("background delivery to %s failed: %s", channel.name, type(err).__name__)


def scan_forever(
    pipeline: SuggestionPipeline,
    load_leads: Callable[[], Iterable[LeadHistory]],
    *,
    interval_s: float,
    stop: threading.Event,
    exclusive: Callable[[], AbstractContextManager[bool]] | None = None,
) -> None:
    """Every ``interval_s`` until ``stop`` is set: re-deliver what an outage left undelivered, then
    :meth:`SuggestionPipeline.scan`; a failed round is logged and the loop goes on.

    ``exclusive``: a lock all replicas share (:func:`services.common.storage.lock.try_exclusive`); a round runs
    only on the replica that gets it, so N replicas do one scan per interval, not N."""
    while not stop.is_set():
        try:
            with exclusive() if exclusive is not None else nullcontext(True) as held:
                if held:
                    pipeline.redeliver()
                    fired = pipeline.scan(load_leads())
                    log.info("stale-lead scan fired %d suggestions", len(fired.suggestions))
                else:
                    log.debug("another replica runs this round of the stale-lead scan")
        except Exception:  # noqa: BLE001 - one bad scan must not end the loop
            log.exception("stale-lead scan failed")
        stop.wait(interval_s)
