"""Dynamic micro-batching: concurrent Classify calls that arrive within a few milliseconds share one forward
pass. One worker thread owns the model (torch uses its own threads inside the pass).

The batcher waits up to ``max_wait_ms`` for company only while calls overlap — when one arrived while the last
pass ran. A call that finds the worker idle after quiet traffic (one caller at a time: the usual request/response
flow) runs at once: waiting could only add latency, as nobody else is coming. Under concurrent load the requests
that queue during a pass form the next batch anyway, and the short wait lets stragglers join it.

Requests carry a priority: live traffic (``LIVE``) always goes before background work (``BACKGROUND``: shadow
comparisons, evaluations of a candidate version), so a swap in progress does not queue live calls behind it.

Housekeeping that must not delay a request (giving free heap memory back to the OS) runs through ``on_idle``:
on the worker thread, once the queue has stayed empty for ``idle_after_ms`` after some work, at most once every
``idle_interval_s`` — so it never runs while a request waits, and a request that arrives during it waits at
most that one call.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from services.common.errors import Unavailable

log = logging.getLogger("salesai.inference")

#: (key, [(payload, texts) per request]) -> one result list per request; requests with the same key share a pass
RunFn = Callable[[Any, list[tuple[Any, list[str]]]], list[list[Any]]]
STOP, LIVE, BACKGROUND = -1, 0, 10


@dataclass(order=True)
class _Request:
    priority: int
    sequence: int
    key: Hashable = field(compare=False)
    texts: list[str] = field(compare=False)
    payload: Any = field(default=None, compare=False)
    future: Future[list[Any]] = field(default_factory=Future, compare=False)


class MicroBatcher:
    def __init__(
        self,
        run: RunFn,
        *,
        max_batch_size: int = 32,
        max_wait_ms: float = 2.0,
        on_idle: Callable[[], object] | None = None,
        idle_after_ms: float = 50.0,
        idle_interval_s: float = 1.0,
    ) -> None:
        self._run = run
        self._max_batch = max_batch_size
        self._max_wait = max_wait_ms / 1000.0
        self._on_idle = on_idle
        self._idle_after = idle_after_ms / 1000.0
        self._idle_interval = idle_interval_s
        self._worked = False  # a pass ran since on_idle last did
        self._overlapping = False  # a request arrived while the last pass ran: worth waiting for company
        self._last_idle = float("-inf")
        self._queue: queue.PriorityQueue[_Request] = queue.PriorityQueue()
        self._sequence = itertools.count()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="micro-batcher", daemon=True)
        self._thread.start()
        self.batches = 0
        self.batched_texts = 0
        self.idle_runs = 0

    def submit(
        self, key: Hashable, texts: Sequence[str], priority: int = LIVE, payload: Any = None
    ) -> Future[list[Any]]:
        """Queue ``texts``; requests with equal ``key`` may share a pass, each keeping its own ``payload``."""
        if self._closed:
            raise Unavailable("the inference service is shutting down")
        request = _Request(priority, next(self._sequence), key, list(texts), payload)
        self._queue.put(request)
        return request.future

    def __call__(
        self,
        key: Hashable,
        texts: Sequence[str],
        timeout: float | None = None,
        priority: int = LIVE,
        payload: Any = None,
    ) -> list[Any]:
        return self.submit(key, texts, priority, payload).result(timeout)

    def close(self) -> None:
        self._closed = True
        self._queue.put(_Request(STOP, next(self._sequence), None, []))
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while True:
            first = self._next()  # the most urgent request waiting
            if first.priority == STOP:
                break
            group, skipped = [first], []
            size = len(first.texts)
            deadline = time.perf_counter() + (self._max_wait if self._overlapping else 0.0)
            stop = False
            while size < self._max_batch:
                remaining = deadline - time.perf_counter()
                try:
                    item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item.priority == STOP:
                    stop = True
                    break
                if item.key == first.key and size + len(item.texts) <= self._max_batch:
                    group.append(item)
                    size += len(item.texts)
                else:
                    skipped.append(item)
            for item in skipped:  # back in line, in priority order, for the next pass
                self._queue.put(item)
            self._execute(group)
            self._overlapping = not self._queue.empty()
            if stop:
                break
        while True:  # fail what is left: callers must not wait forever
            try:
                request = self._queue.get_nowait()
            except queue.Empty:
                break
            if request.priority != STOP:
                request.future.set_exception(Unavailable("the inference service is shutting down"))

    def _next(self) -> _Request:
        """The next request; if none comes within ``idle_after_ms`` of the last pass, run ``on_idle`` meanwhile."""
        if self._on_idle is None or not self._worked:
            return self._queue.get()
        wait = max(self._idle_after, self._last_idle + self._idle_interval - time.monotonic())
        try:
            return self._queue.get(timeout=wait)
        except queue.Empty:
            pass
        self._worked = False
        self._last_idle = time.monotonic()
        try:
            self._on_idle()
        except Exception:  # housekeeping must never stop the worker
            log.exception("idle housekeeping failed")
        self.idle_runs += 1
        return self._queue.get()

    def _execute(self, group: list[_Request]) -> None:
        self._worked = True
        try:
            results = self._run(group[0].key, [(r.payload, r.texts) for r in group])
        except BaseException as error:  # every caller must hear about it
            for request in group:
                request.future.set_exception(error)
            return
        self.batches += 1
        self.batched_texts += sum(len(r.texts) for r in group)
        for request, result in zip(group, results, strict=True):
            request.future.set_result(result)
