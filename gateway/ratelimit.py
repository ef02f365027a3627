"""Per-API-key rate limits (moving window, the ``limits`` library): over the limit → 429 with ``Retry-After``.

The windows live in the gateway process by default (``memory://``). Several gateway replicas share one limit per key
when they point ``SALESAI_GATEWAY_RATE_LIMIT_STORAGE`` at the same Redis (``redis://host:6379/0``): otherwise each
replica would allow the full limit on its own share of the traffic.
"""

from __future__ import annotations

import math
import time

from limits import parse
from limits.errors import ConfigurationError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from services.common.errors import InvalidArgument, ResourceExhausted


class RateLimiter:
    def __init__(self, limit: str, storage: str = "memory://") -> None:
        """``limit`` in the ``limits`` notation, e.g. ``600/minute`` or ``20/second;600/minute``; '' = none.
        ``storage``: ``memory://`` (this process) or a ``redis://`` URL shared by every gateway replica."""
        self.items = [parse(part) for part in limit.split(";") if part.strip()]
        try:
            backend = storage_from_string(storage, key_prefix="salesai-ratelimit")
        except (ConfigurationError, ValueError) as error:
            raise InvalidArgument(f"rate limit storage: {error}", field="rate_limit_storage") from None
        self._limiter = MovingWindowRateLimiter(backend)

    def check(self, key_id: str) -> None:
        for item in self.items:
            if not self._limiter.hit(item, key_id):
                reset = self._limiter.get_window_stats(item, key_id).reset_time
                error = ResourceExhausted(f"rate limit of {item} for this API key exceeded; retry later")
                error.retry_after = max(1, math.ceil(reset - time.time()))
                raise error
