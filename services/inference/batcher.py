"""Dynamic micro-batching: concurrent Classify calls that arrive within a few milliseconds share one forward
pass. One worker thread owns the model (torch uses its own threads inside the pass)."""

from __future__ import annotations

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

#: (key, texts) -> one result per text; requests with the same key can share a pass
RunFn = Callable[[Hashable, list[str]], list[Any]]


@dataclass
class _Request:
    key: Hashable
    texts: list[str]
    future: Future[list[Any]] = field(default_factory=Future)


class MicroBatcher:
    def __init__(self, run: RunFn, *, max_batch_size: int = 32, max_wait_ms: float = 2.0) -> None:
        self._run = run
        self._max_batch = max_batch_size
        self._max_wait = max_wait_ms / 1000.0
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="micro-batcher", daemon=True)
        self._thread.start()
        self.batches = 0
        self.batched_texts = 0

    def submit(self, key: Hashable, texts: Sequence[str]) -> Future[list[Any]]:
        if self._closed:
            raise Unavailable("the inference service is shutting down")
        request = _Request(key, list(texts))
        self._queue.put(request)
        return request.future

    def __call__(self, key: Hashable, texts: Sequence[str], timeout: float | None = None) -> list[Any]:
        return self.submit(key, texts).result(timeout)

    def close(self) -> None:
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        pending: list[_Request] = []
        while True:
            first = pending.pop(0) if pending else self._queue.get()
            if first is None:
                break
            group = [first]
            size = len(first.texts)
            deadline = time.perf_counter() + self._max_wait
            stop = False
            while size < self._max_batch:
                remaining = deadline - time.perf_counter()
                try:
                    item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                if item.key == first.key and size + len(item.texts) <= self._max_batch:
                    group.append(item)
                    size += len(item.texts)
                else:
                    pending.append(item)
            self._execute(group)
            if stop:
                for request in pending:
                    request.future.set_exception(Unavailable("the inference service is shutting down"))
                break

    def _execute(self, group: list[_Request]) -> None:
        texts = [t for r in group for t in r.texts]
        try:
            results = self._run(group[0].key, texts)
        except BaseException as error:  # every caller must hear about it
            for request in group:
                request.future.set_exception(error)
            return
        self.batches += 1
        self.batched_texts += len(texts)
        start = 0
        for request in group:
            request.future.set_result(results[start : start + len(request.texts)])
            start += len(request.texts)
