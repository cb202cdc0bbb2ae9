"""A Redis summary cache that failed is left alone for a while: a hung Redis (it accepts
connections and never answers) costs one timeout, not one per lookup and write."""

from __future__ import annotations

import asyncio

import pytest

from switchpoint.compaction import summary_caches
from switchpoint.compaction.summary_caches import RedisSummaryCache
from tests.redis_fixtures import hung_redis, timed

__all__ = ["hung_redis"]


def test_after_a_timeout_lookups_and_writes_skip_redis_until_the_backoff_ends(
    hung_redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary_caches, "BACKOFF_S", 1.5)

    async def scenario() -> None:
        cache = RedisSummaryCache(hung_redis, "sp-test", 60)
        try:
            assert await timed(cache.get("a")) >= 0.9  # the first one waits out its timeout
            assert cache.errors == 1
            # Within the back-off: misses and skipped writes at once.
            assert await timed(cache.get("b")) < 0.2
            assert await timed(cache.put("b", "summary")) < 0.2
            assert (cache.errors, cache.misses) == (1, 2)
            await asyncio.sleep(1.6)
            # After it: Redis is tried again (and times out again).
            assert await timed(cache.get("c")) >= 0.9
            assert cache.errors == 2
        finally:
            await cache.aclose()

    asyncio.run(scenario())
