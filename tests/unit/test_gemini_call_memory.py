"""`SharedGeminiCalls`: Gemini's calls in Redis, looked up within bounds, foreign values
ignored, and a hung Redis costing one timeout, not one per request."""

from __future__ import annotations

import asyncio

import pytest
import redis
from pydantic import ValidationError

from switchpoint.config.schema import GeminiCallMemoryConfig, ProviderConfig
from switchpoint.providers.gemini_calls import (
    MAX_ID_CHARS,
    MAX_RECALLED,
    GeminiCalls,
    SharedGeminiCalls,
    build_gemini_calls,
)
from tests.redis_fixtures import REDIS_URL, hung_redis, redis_prefix, timed

__all__ = ["hung_redis", "redis_prefix"]


def shared(prefix: str, url: str = REDIS_URL) -> SharedGeminiCalls:
    config = GeminiCallMemoryConfig(type="redis", url=url, key_prefix=prefix)
    calls = build_gemini_calls(config, "google")
    assert isinstance(calls, SharedGeminiCalls)
    return calls


def test_a_call_kept_by_one_process_is_recalled_by_another(redis_prefix: str) -> None:
    async def scenario() -> None:
        first, second = shared(redis_prefix), shared(redis_prefix)
        try:
            await first.keep({"a": "SIG-A", "b": "SIG-B"}, issued=["a", "c"])
            assert second.get("a") is None and "a" not in second
            await second.recall(["a", "b", "c", "never-made"])
            assert (second.get("a"), "a" in second) == ("SIG-A", True)
            assert (second.get("b"), "b" in second) == ("SIG-B", False)  # an id we made
            assert (second.get("c"), "c" in second) == (None, True)  # issued, unsigned
            assert not second.knows("never-made")
        finally:
            await first.aclose()
            await second.aclose()

    asyncio.run(scenario())


def test_a_lookup_is_bounded_to_the_latest_calls_of_sensible_ids(redis_prefix: str) -> None:
    async def scenario() -> None:
        first, second = shared(redis_prefix), shared(redis_prefix)
        long_id = "x" * (MAX_ID_CHARS + 1)
        idents = [f"call_{n}" for n in range(MAX_RECALLED + 40)]
        try:
            await first.keep({ident: f"SIG-{ident}" for ident in [*idents, long_id]})
            await second.recall([long_id, *idents])
            assert not second.knows(long_id)
            assert [i for i in idents if second.knows(i)] == idents[-MAX_RECALLED:]
        finally:
            await first.aclose()
            await second.aclose()

    asyncio.run(scenario())


def test_a_foreign_value_under_the_prefix_is_ignored(redis_prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    for ident, value in [("junk", b"not json"), ("shape", b'{"a": 1}'), ("type", b'[1, "x"]')]:
        client.set(f"{redis_prefix}:google:{ident}", value)

    async def scenario() -> None:
        calls = shared(redis_prefix)
        try:
            await calls.recall(["junk", "shape", "type"])
            assert not any(calls.knows(i) for i in ("junk", "shape", "type"))
        finally:
            await calls.aclose()

    asyncio.run(scenario())


def test_a_hung_redis_costs_one_timeout_then_is_left_alone(hung_redis: str) -> None:
    async def scenario() -> None:
        calls = shared("sp-test", hung_redis)
        try:
            assert 0.3 <= await timed(calls.keep({"a": "SIG"})) < 2
            assert calls.errors == 1
            # Left alone now: no wait, and the process's own memory still holds the call.
            assert await timed(calls.recall(["a", "b"])) < 0.1
            assert await timed(calls.keep({"c": "SIG"})) < 0.1
            assert calls.errors == 1
            assert calls.get("a") == "SIG" and calls.get("c") == "SIG"
        finally:
            await calls.aclose()

    asyncio.run(scenario())


def test_memory_is_the_default_and_redis_needs_a_url() -> None:
    assert type(build_gemini_calls(None, "google")) is GeminiCalls
    assert type(build_gemini_calls(GeminiCallMemoryConfig(), "google")) is GeminiCalls
    with pytest.raises(ValidationError, match="type redis needs a url"):
        GeminiCallMemoryConfig(type="redis")
    with pytest.raises(ValidationError, match="call_memory: is only valid for type google"):
        ProviderConfig(type="anthropic", call_memory={"type": "memory"})  # type: ignore[arg-type]
