"""Where summaries are kept between requests: per process (default) or in Redis.

The in-memory LRU (`switchpoint.context.summary_cache`) belongs to one worker process:
with `server.workers: N`, an agent loop whose requests land on different workers pays
for a summary once per worker. `routing.context.summary_cache: {type: redis, url}` shares
them between workers and instances. Redis is an optimisation, never a dependency of a
request: when it is unreachable a lookup is a miss and a write is skipped (logged once
when it goes, once when it is back), each bounded by a short timeout. Once it has
failed, it is left alone for a while: a hung Redis would otherwise cost every
summarized request that timeout on each of its lookups and writes.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from switchpoint.config.schema import SummaryCacheConfig
from switchpoint.context.summary_cache import InMemorySummaryCache, SummaryCache
from switchpoint.redis_backoff import BACKOFF_S, RedisBackoff

if TYPE_CHECKING:
    import redis.asyncio

log = logging.getLogger("switchpoint.context")

# A summary cache lookup happens before summarizer calls that take seconds; still, a
# hung Redis must not hold a request for long.
_TIMEOUT_S = 1.0


class RedisSummaryCache:
    def __init__(self, url: str, key_prefix: str, ttl_s: int) -> None:
        import redis.asyncio

        self.key_prefix = key_prefix
        self.ttl_s = ttl_s
        self._client: redis.asyncio.Redis = redis.asyncio.Redis.from_url(
            url, socket_timeout=_TIMEOUT_S, socket_connect_timeout=_TIMEOUT_S
        )
        self._redis = RedisBackoff(log, "summary cache", "summaries are not shared")
        self.hits = 0
        self.misses = 0

    @property
    def errors(self) -> int:
        return self._redis.errors

    def _name(self, key: str) -> str:
        return f"{self.key_prefix}:{key}"

    async def get(self, key: str) -> str | None:
        import redis.exceptions

        if self._redis.resting():
            self.misses += 1
            return None
        try:
            value = await self._client.get(self._name(key))
        except (redis.exceptions.RedisError, OSError) as exc:
            # Lookups are misses and writes are skipped for `BACKOFF_S`.
            self._redis.failed(exc, BACKOFF_S)
            self.misses += 1
            return None
        self._redis.succeeded()
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        if isinstance(value, str):
            return value
        return bytes(value).decode("utf-8", "surrogatepass")

    async def put(self, key: str, summary: str) -> None:
        import redis.exceptions

        if self._redis.resting():
            return
        try:
            await self._client.set(
                self._name(key), summary.encode("utf-8", "surrogatepass"), ex=self.ttl_s
            )
        except (redis.exceptions.RedisError, OSError) as exc:
            # Lookups are misses and writes are skipped for `BACKOFF_S`.
            self._redis.failed(exc, BACKOFF_S)
            return
        self._redis.succeeded()

    async def aclose(self) -> None:
        await self._client.aclose()


def build_summary_cache(config: SummaryCacheConfig) -> SummaryCache:
    if config.type == "redis":
        assert config.url is not None  # checked by the configuration
        return RedisSummaryCache(config.url, config.key_prefix, config.ttl_s)
    return InMemorySummaryCache(max_entries=config.max_entries, max_chars=config.max_chars)
