"""Circuit breakers under steady traffic: a provider that goes down is skipped after the
threshold, probed while open, and used again within a bounded time after it recovers."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import openai
import pytest

from switchpoint.providers.simulated import SimulatedAdapter
from tests.fakes import OpenAIFake, ServerError, ServiceUnavailable
from tests.resilience.gateway_thread import GatewayThread
from tests.resilience.topology import KEYS, openai_pair

USER = [{"role": "user", "content": "hello"}]
Pair = tuple[OpenAIFake, OpenAIFake]

BREAKER = {
    "max_retries": 0,
    "circuit_breaker_threshold": 0.5,
    "circuit_breaker": {"window_s": 10, "min_requests": 5, "open_s": 1.0, "half_open_probes": 2},
}


def served_by(api: openai.OpenAI) -> str:
    raw = api.chat.completions.with_raw_response.create(model="main", messages=USER)
    assert raw.status_code == 200
    return raw.headers["x-switchpoint-provider"]


def test_down_provider_is_skipped_probed_and_used_again(pair: Pair) -> None:
    primary, backup = pair
    document = openai_pair(primary.base_url, backup.base_url, fallback=BREAKER)
    with GatewayThread(document, KEYS) as gw:
        api = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
        assert {served_by(api) for _ in range(10)} == {"primary"}
        assert primary.request_count() == 10

        primary.down(fault=ServiceUnavailable())
        down_since = primary.request_count()
        started = time.monotonic()
        servers = [served_by(api) for _ in range(40)]
        while time.monotonic() - started < 2.5:  # long enough for probes while down
            servers.append(served_by(api))
            time.sleep(0.02)
        received_while_down = primary.request_count() - down_since
        assert set(servers) == {"backup"}  # every client request still succeeded
        # 10 failures trip it (10 good + 10 bad in the window at threshold 0.5); then only
        # probes: one per open period of 1 s (a failed probe reopens it at once).
        elapsed = time.monotonic() - started
        assert 10 <= received_while_down <= 10 + int(elapsed / 1.0) + 2
        assert gw.gateway is not None
        assert gw.gateway.executor.breakers.state(("primary", "gpt-a")) in ("open", "half_open")

        primary.up()
        recovered_at = time.monotonic()
        while served_by(api) != "primary":
            assert time.monotonic() - recovered_at < 1.0 + 5, "not used again after recovery"
            time.sleep(0.02)
        for _ in range(3):
            served_by(api)
        assert gw.gateway.executor.breakers.state(("primary", "gpt-a")) == "closed"
        moves = [(old, new) for _, _, old, new, _ in gw.recorder.breaker_moves]
    assert moves[0] == ("closed", "open")
    assert ("open", "half_open") in moves
    assert moves[-1] == ("half_open", "closed")


def test_skipping_an_open_breaker_is_one_fallback(pair: Pair) -> None:
    primary, backup = pair
    document = openai_pair(primary.base_url, backup.base_url, fallback=BREAKER)
    with GatewayThread(document, KEYS) as gw:
        api = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
        primary.down(fault=ServiceUnavailable())
        assert gw.gateway is not None
        breakers = gw.gateway.executor.breakers
        for _ in range(20):
            served_by(api)
            if breakers.state(("primary", "gpt-a")) == "open":
                break
        assert breakers.state(("primary", "gpt-a")) == "open"
        sent_before = primary.request_count()
        raw = api.chat.completions.with_raw_response.create(model="main", messages=USER)
        assert primary.request_count() == sent_before  # skipped, not sent
        # One move, from the skipped first target to the backup: one fallback, not two.
        assert raw.headers["x-switchpoint-fallbacks"] == "1"
        call = gw.recorder.calls[-1]
        assert [(a.reason, a.outcome) for a in call.attempts] == [
            ("first", "skipped_open"),
            ("fallback", "ok"),
        ]
        assert call.fallback_reasons == ["breaker_open"]


def simulated_pair() -> dict[str, Any]:
    profile = {"max_context": 100_000, "cost_weight": 0.5}
    fast = {"latency_ms": 1.0, "chunk_delay_ms": 0.0, "output_tokens": 5}
    return {
        "logging": {"access_log": False},
        "providers": {
            "sim_a": {"type": "simulated", "simulation": fast},
            "sim_b": {"type": "simulated", "simulation": fast},
        },
        "routing": {
            "default_profile": "main",
            "profiles": {
                "main": {"model": "sim-a", "provider": "sim_a", "fallbacks": ["spare"], **profile},
                "spare": {"model": "sim-b", "provider": "sim_b", **profile},
            },
            "fallback": BREAKER,
        },
    }


def test_simulated_outage_opens_and_recovers_the_breaker() -> None:
    """What `switchpoint demo` shows: flip the simulated provider's `down` switch."""
    with GatewayThread(simulated_pair(), {}) as gw:
        assert gw.gateway is not None
        adapter = gw.gateway.adapters["sim_a"]
        assert isinstance(adapter, SimulatedAdapter)
        api = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
        breakers = gw.gateway.executor.breakers
        for _ in range(5):
            served_by(api)
        gw.call_soon(setattr, adapter, "down", True)
        time.sleep(0.05)
        providers = [served_by(api) for _ in range(20)]
        assert set(providers) == {"sim_b"}
        assert breakers.state(("sim_a", "sim-a")) == "open"
        gw.call_soon(setattr, adapter, "down", False)
        started = time.monotonic()
        while served_by(api) != "sim_a":
            assert time.monotonic() - started < 6
            time.sleep(0.05)
        for _ in range(2):
            served_by(api)
        assert breakers.state(("sim_a", "sim-a")) == "closed"


def test_every_breaker_open_fails_fast_with_retry_after(pair: Pair) -> None:
    primary, backup = pair
    primary.down(fault=ServiceUnavailable())
    backup.down(fault=ServiceUnavailable())
    fallback = {
        "max_retries": 0,
        "circuit_breaker_threshold": 0.5,
        "circuit_breaker": {"window_s": 10, "min_requests": 1, "open_s": 30},
    }
    document = openai_pair(primary.base_url, backup.base_url, fallback=fallback)
    with GatewayThread(document, KEYS) as gw:
        api = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
        with pytest.raises(openai.APIStatusError):
            api.chat.completions.create(model="main", messages=USER)  # trips both
        assert (primary.request_count(), backup.request_count()) == (1, 1)
        started = time.monotonic()
        with pytest.raises(openai.APIStatusError) as caught:
            api.chat.completions.create(model="main", messages=USER, stream=True)
        assert time.monotonic() - started < 2
    error = caught.value
    assert error.status_code == 503
    assert "circuit breaker of every target is open" in error.message
    assert 25 <= int(error.response.headers["retry-after"]) <= 30
    assert error.response.headers["x-switchpoint-attempts"] == "0"
    assert (primary.request_count(), backup.request_count()) == (1, 1)


def test_streams_begun_before_the_breaker_opened_free_no_probe_slot(pair: Pair) -> None:
    """Streams that were running when the breaker opened, and end while it probes (here
    their clients leave), are no probes: they neither free a probe's slot, letting more
    calls than `half_open_probes` through, nor count as its result."""
    primary, backup = pair
    primary.stream_chunks, primary.chunk_gap = 20, 0.2
    fallback = {
        "max_retries": 0,
        "circuit_breaker_threshold": 0.5,
        "circuit_breaker": {"window_s": 10, "min_requests": 1, "open_s": 0.5,
                            "half_open_probes": 1},
    }  # fmt: skip
    document = openai_pair(primary.base_url, backup.base_url, fallback=fallback)
    with GatewayThread(document, KEYS) as gw, ThreadPoolExecutor(6) as pool:
        api = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
        with ExitStack() as stragglers:
            lines = []  # held: a line iterator collected would close its stream
            for _ in range(3):
                response = stragglers.enter_context(
                    api.chat.completions.with_streaming_response.create(
                        model="main", messages=USER, stream=True
                    )
                )
                lines.append(response.iter_lines())
                next(lines[-1])  # the stream is under way
            primary.enqueue(ServerError())
            assert served_by(api) == "backup"  # 1 failure of 1: open
            time.sleep(0.6)  # past open_s: the next call is the one probe
            primary.header_delay, primary.chunk_gap = 2.0, 0.0
            before = primary.request_count()
            probe = pool.submit(served_by, api)
            while primary.request_count() == before:
                time.sleep(0.01)
        # The stragglers' clients have left: their attempts end, cancelled.
        while sum(a.outcome == "cancelled" for a in gw.recorder.attempts) < 3:
            time.sleep(0.01)
        others = list(pool.map(lambda _: served_by(api), range(5)))
        assert probe.result() == "primary"
    assert others == ["backup"] * 5
    assert primary.request_count() - before == 1
