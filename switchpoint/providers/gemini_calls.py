"""The function calls Gemini made, kept until a client replays them.

Gemini 3 gives each function call a thought signature, and often an id, and wants both
back when the conversation is replayed; clients of other protocols (an OpenAI or
Anthropic SDK) have nowhere to keep either, so the gateway does, by the call id the
client got. `GeminiCalls` keeps the latest calls in this worker's memory. With several
workers, instances or a restart, a replay often reaches a process that never saw the
call: `SharedGeminiCalls` also keeps them in Redis (`call_memory: {type: redis}`).

A call not found anywhere still goes out: its signature is replaced by Google's
placeholder (for Gemini 3 and later, which require one) and its id left out (Gemini
then matches results to calls by name and order), so Redis is an optimisation and
never a dependency of a request.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING

import orjson

from switchpoint.config.schema import GeminiCallMemoryConfig
from switchpoint.redis_backoff import RedisBackoff

if TYPE_CHECKING:
    import redis.asyncio

log = logging.getLogger("switchpoint.providers")

# Calls remembered per worker (each at most a few KB).
CALLS_KEPT = 2048
# Redis is asked on the way to Gemini and once per answer with calls: a hung one must
# cost a request little, and only once per backoff period.
_TIMEOUT_S = 0.5
# A replay names the calls of its whole history; the latest matter (Gemini checks the
# signatures of the current turn), and a client cannot make a lookup unbounded.
MAX_RECALLED = 256
MAX_ID_CHARS = 256


class GeminiCalls:
    """The function calls Gemini made recently, by call id: whether Gemini gave the id
    (it then goes back on the call and its result) and the call's thought signature.
    Bounded: the oldest are forgotten."""

    __slots__ = ("_calls", "_limit")
    # Other processes may have kept calls (worth a `recall` before encoding a replay).
    shared = False

    def __init__(self, limit: int = CALLS_KEPT) -> None:
        self._limit = limit
        # Call id -> (its signature, whether Gemini gave the id). A call Gemini signed
        # may have an id the gateway made (Gemini before ids), which Gemini never saw.
        self._calls: OrderedDict[str, tuple[str | None, bool]] = OrderedDict()

    def remember(self, signatures: dict[str, str], issued: Iterable[str] = ()) -> None:
        self._keep(_entries(signatures, issued))

    def _keep(self, entries: dict[str, tuple[str | None, bool]]) -> None:
        calls = self._calls
        for ident, entry in entries.items():
            calls[ident] = entry
            calls.move_to_end(ident)
        while len(calls) > self._limit:
            calls.popitem(last=False)

    async def keep(self, signatures: dict[str, str], issued: Iterable[str] = ()) -> None:
        """Remember an answer's calls before the client can replay them."""
        self.remember(signatures, issued)

    async def recall(self, idents: Iterable[str]) -> None:
        """Make the calls among `idents` that another process kept known here."""

    def get(self, ident: str) -> str | None:
        call = self._calls.get(ident)
        return call[0] if call is not None else None

    def __contains__(self, ident: object) -> bool:
        """Gemini gave this call id."""
        call = self._calls.get(ident) if isinstance(ident, str) else None
        return call is not None and call[1]

    def knows(self, ident: str) -> bool:
        return ident in self._calls

    async def aclose(self) -> None:
        pass


class SharedGeminiCalls(GeminiCalls):
    """`GeminiCalls` backed by Redis: an answer's calls are written there before the
    answer ends (so a client cannot replay them before they are), and a replay's calls
    unknown here are read from there before the request is encoded."""

    __slots__ = ("_client", "_prefix", "_redis", "_ttl_s")
    shared = True

    def __init__(self, config: GeminiCallMemoryConfig, provider: str) -> None:
        import redis.asyncio

        super().__init__()
        assert config.url is not None  # checked by the configuration
        self._client: redis.asyncio.Redis = redis.asyncio.Redis.from_url(
            config.url, socket_timeout=_TIMEOUT_S, socket_connect_timeout=_TIMEOUT_S
        )
        # Per provider: two `google` providers may be two Google projects.
        self._prefix = f"{config.key_prefix}:{provider}:"
        self._ttl_s = config.ttl_s
        self._redis = RedisBackoff(
            log,
            f"Gemini call memory ({provider})",
            "replayed calls other workers made go to Gemini with Google's placeholder signature",
        )

    @property
    def errors(self) -> int:
        return self._redis.errors

    async def keep(self, signatures: dict[str, str], issued: Iterable[str] = ()) -> None:
        import redis.exceptions

        entries = _entries(signatures, issued)
        self._keep(entries)
        if not entries or self._redis.resting():
            return
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for ident, entry in entries.items():
                    pipe.set(self._prefix + ident, orjson.dumps(entry), ex=self._ttl_s)
                await pipe.execute()
        except (redis.exceptions.RedisError, OSError) as exc:
            self._redis.failed(exc)
            return
        self._redis.succeeded()

    async def recall(self, idents: Iterable[str]) -> None:
        import redis.exceptions

        missing = [
            ident
            for ident in dict.fromkeys(idents)
            if len(ident) <= MAX_ID_CHARS and not self.knows(ident)
        ][-MAX_RECALLED:]
        if not missing or self._redis.resting():
            return
        try:
            values = await self._client.mget([self._prefix + ident for ident in missing])
        except (redis.exceptions.RedisError, OSError) as exc:
            self._redis.failed(exc)
            return
        self._redis.succeeded()
        found: dict[str, tuple[str | None, bool]] = {}
        for ident, value in zip(missing, values, strict=True):
            entry = _entry(value)
            if entry is not None:
                found[ident] = entry
        self._keep(found)

    async def aclose(self) -> None:
        await self._client.aclose()


def _entries(
    signatures: dict[str, str], issued: Iterable[str]
) -> dict[str, tuple[str | None, bool]]:
    """An answer's calls: by id, the signature and whether Gemini gave the id."""
    given = set(issued)
    return {ident: (signatures.get(ident), ident in given) for ident in given | signatures.keys()}


def _entry(value: object) -> tuple[str | None, bool] | None:
    """A stored call, or None for a missing or foreign value."""
    if not isinstance(value, bytes | str):
        return None
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if not (isinstance(decoded, list) and len(decoded) == 2):
        return None
    signature, issued = decoded
    if not (signature is None or isinstance(signature, str)) or not isinstance(issued, bool):
        return None
    return signature, issued


def build_gemini_calls(config: GeminiCallMemoryConfig | None, provider: str) -> GeminiCalls:
    if config is not None and config.type == "redis":
        return SharedGeminiCalls(config, provider)
    return GeminiCalls()
