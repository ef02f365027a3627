"""Per-key rate limits shared by gateway replicas through Redis (the real server on 127.0.0.1:6379), and kept per
process in memory by default."""

from __future__ import annotations

import uuid

import pytest

from gateway.ratelimit import RateLimiter
from services.common.errors import InvalidArgument, ResourceExhausted

REDIS = "redis://127.0.0.1:6379/0"


def hits(limiter: RateLimiter, key: str, n: int) -> int:
    allowed = 0
    for _ in range(n):
        try:
            limiter.check(key)
            allowed += 1
        except ResourceExhausted as error:
            assert error.retry_after >= 1  # type: ignore[attr-defined]
    return allowed


def test_replicas_sharing_redis_enforce_one_limit_per_key() -> None:
    key = f"k-{uuid.uuid4().hex}"  # a fresh key: nothing else in Redis counts against it
    first, second = RateLimiter("5/minute", REDIS), RateLimiter("5/minute", REDIS)
    assert hits(first, key, 3) + hits(second, key, 3) + hits(first, key, 2) == 5
    assert hits(second, f"k-{uuid.uuid4().hex}", 2) == 2  # other keys are not affected


def test_in_memory_windows_are_per_replica() -> None:
    key = f"k-{uuid.uuid4().hex}"
    first, second = RateLimiter("5/minute"), RateLimiter("5/minute")
    assert hits(first, key, 6) == 5 and hits(second, key, 6) == 5


def test_a_bad_storage_url_is_a_clear_error() -> None:
    with pytest.raises(InvalidArgument, match="rate limit storage"):
        RateLimiter("5/minute", "bogus://somewhere")
