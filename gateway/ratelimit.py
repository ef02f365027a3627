"""Per-API-key rate limits (moving window, the ``limits`` library): over the limit → 429 with ``Retry-After``.

The window lives in the gateway process; with several gateway replicas each enforces it on its own share.
"""

from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from services.common.errors import ResourceExhausted


class RateLimiter:
    def __init__(self, limit: str) -> None:
        """``limit`` in the ``limits`` notation, e.g. ``600/minute`` or ``20/second;600/minute``; '' = none."""
        self.items = [parse(part) for part in limit.split(";") if part.strip()]
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def check(self, key_id: str) -> None:
        for item in self.items:
            if not self._limiter.hit(item, key_id):
                reset = self._limiter.get_window_stats(item, key_id).reset_time
                error = ResourceExhausted(f"rate limit of {item} for this API key exceeded; retry later")
                error.retry_after = max(1, math.ceil(reset - time.time()))
                raise error
