"""Circuit-breaker state shared by several gateway instances through Redis.

Design: every instance keeps the in-process store's local replica and decides on it
alone, so `allow` and `record` never wait on the network (a Redis round trip per
request would cost more than the whole gateway's per-request budget, and would make
every request fail or slow down with Redis). What is shared is the transitions that
matter to the others:

- a local `open` or `closed` transition is queued and pushed at once by a background
  task (half-open probing is each instance's own business);
- every `sync_interval_s` the task reads all breakers (one `HGETALL` on one hash) and
  applies the transitions other instances made since, keeping the remote open period
  (an instance that learns of an open breaker 0.5 s late keeps it open 0.5 s less).

Writes are compare-and-set on the transition's wall-clock time (a Lua script), so the
newest transition wins whatever order instances push in. Error rates are counted per
instance (each sees its own share of the traffic; `min_requests` applies per instance):
sharing counts would need a write per request. When Redis is unreachable the instances
carry on with their local breakers, logging once when it goes and once when it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from typing import TYPE_CHECKING, Any

import orjson

from switchpoint.config.schema import BreakerStoreConfig
from switchpoint.execution.breaker import Breaker, BreakerStore, Key, State

if TYPE_CHECKING:
    from switchpoint.execution.breaker import CircuitBreakers

log = logging.getLogger("switchpoint.execution")

# Set the field only if the stored transition is older than ours.
_COMPARE_AND_SET = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local ok, doc = pcall(cjson.decode, current)
  if ok and type(doc) == 'table' and tonumber(doc['at']) and
     tonumber(doc['at']) >= tonumber(ARGV[3]) then
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""

# Forget every breaker after a day without any transition anywhere.
_TTL_S = 86400
_SHARED_STATES: frozenset[str] = frozenset({"open", "closed"})


class RedisBreakerStore(BreakerStore):
    def __init__(self, config: BreakerStoreConfig, *, instance_id: str | None = None) -> None:
        super().__init__()
        assert config.url is not None
        self._url = config.url
        self._hash = config.key_prefix
        self._interval = config.sync_interval_s
        self.instance_id = instance_id or (
            f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        )
        self._pending: dict[Key, tuple[State, float]] = {}
        self._breakers: CircuitBreakers | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._reachable = True
        # Completed synchronisations (pulls), for tests and diagnostics.
        self.syncs = 0

    def start(self, breakers: CircuitBreakers) -> None:
        if self._task is not None:
            return
        self._breakers = breakers
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def announce(self, key: Key, breaker: Breaker, reason: str) -> None:
        if breaker.state not in _SHARED_STATES:
            return
        self._pending[key] = (breaker.state, breaker.changed_wall)
        if self._wake is not None:
            self._wake.set()

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def sync_now(self) -> None:
        """Wake the background task (tests and shutdown use it); returns at once."""
        if self._wake is not None:
            self._wake.set()

    # --- background -------------------------------------------------------------------
    async def _run(self) -> None:
        import redis.asyncio as redis_asyncio
        from redis.exceptions import RedisError

        client = redis_asyncio.Redis.from_url(
            self._url, socket_timeout=2.0, socket_connect_timeout=2.0
        )
        script = client.register_script(_COMPARE_AND_SET)
        assert self._wake is not None
        try:
            while True:
                self._wake.clear()
                try:
                    await self._push(script)
                    await self._pull(client)
                    self.syncs += 1
                    if not self._reachable:
                        log.warning("breaker store %s is reachable again", self._hash)
                        self._reachable = True
                except (RedisError, OSError) as exc:
                    if self._reachable:
                        log.warning(
                            "breaker store unreachable (%s): breakers are local until it is back",
                            type(exc).__name__,
                        )
                        self._reachable = False
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._interval):
                        await self._wake.wait()
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _push(self, script: Any) -> None:
        pending, self._pending = self._pending, {}
        try:
            while pending:
                key, (state, at) = next(iter(pending.items()))
                value = orjson.dumps({"state": state, "at": at, "by": self.instance_id})
                await script(keys=[self._hash], args=[_field(key), value, repr(at), _TTL_S])
                del pending[key]
        finally:
            for key, entry in pending.items():
                # Not pushed: keep it unless a newer local transition replaced it.
                self._pending.setdefault(key, entry)

    async def _pull(self, client: Any) -> None:
        raw: dict[bytes, bytes] = await client.hgetall(self._hash)
        breakers = self._breakers
        assert breakers is not None
        for field, value in raw.items():
            try:
                provider, model = orjson.loads(field)
                doc = orjson.loads(value)
                state, at, origin = doc["state"], float(doc["at"]), str(doc["by"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
            if origin == self.instance_id or state not in _SHARED_STATES:
                continue
            breakers.apply_shared((str(provider), str(model)), state, at, origin)


def _field(key: Key) -> bytes:
    return orjson.dumps([key[0], key[1]])
