"""Two gateway instances sharing breaker state through a real Redis (127.0.0.1:6379)."""

from __future__ import annotations

import time
import uuid

import openai
import pytest
import redis

from tests.fakes import OpenAIFake, ServiceUnavailable
from tests.resilience.gateway_thread import GatewayThread
from tests.resilience.topology import KEYS, openai_pair
from tests.waiting import wait_until

USER = [{"role": "user", "content": "hello"}]
KEY = ("primary", "gpt-a")


@pytest.fixture
def prefix() -> str:
    name = f"test:switchpoint:breakers:{uuid.uuid4().hex}"
    yield name
    redis.Redis(host="127.0.0.1", port=6379).delete(name)


def test_one_instance_trips_the_breaker_and_the_other_sees_it(
    pair: tuple[OpenAIFake, OpenAIFake], prefix: str
) -> None:
    primary, backup = pair
    fallback = {
        "max_retries": 0,
        "circuit_breaker_threshold": 0.5,
        "circuit_breaker": {
            "window_s": 10,
            "min_requests": 4,
            "open_s": 1.5,
            "half_open_probes": 1,
            "store": {
                "type": "redis",
                "url": "redis://127.0.0.1:6379/0",
                "key_prefix": prefix,
                "sync_interval_s": 0.1,
            },
        },
    }
    document = openai_pair(primary.base_url, backup.base_url, fallback=fallback)
    with GatewayThread(document, KEYS) as a, GatewayThread(document, KEYS) as b:
        assert a.gateway is not None and b.gateway is not None
        api_a = openai.OpenAI(base_url=a.base_url, api_key="unused", max_retries=0)
        api_b = openai.OpenAI(base_url=b.base_url, api_key="unused", max_retries=0)
        # B makes a call first, so its store is running before A trips anything.
        api_b.chat.completions.create(model="main", messages=USER)
        primary.down(fault=ServiceUnavailable())
        for _ in range(4):
            api_a.chat.completions.create(model="main", messages=USER)
        assert a.gateway.executor.breakers.state(KEY) == "open"
        assert wait_until(lambda: b.gateway.executor.breakers.state(KEY) == "open", 3.0)
        before = primary.request_count()
        raw = api_b.chat.completions.with_raw_response.create(model="main", messages=USER)
        assert raw.headers["x-switchpoint-provider"] == "backup"
        assert primary.request_count() == before  # B never hit the down provider
        assert any("shared by instance" in m for m in _reasons(b))

        # Recovery seen by A's probe is shared with B too.
        primary.up()
        time.sleep(1.6)
        api_a.chat.completions.create(model="main", messages=USER)
        assert a.gateway.executor.breakers.state(KEY) == "closed"
        assert wait_until(lambda: b.gateway.executor.breakers.state(KEY) == "closed", 3.0)


def _reasons(gw: GatewayThread) -> list[str]:
    return [reason for *_, reason in gw.recorder.breaker_moves]


def test_an_unreachable_store_leaves_breakers_local(pair: tuple[OpenAIFake, OpenAIFake]) -> None:
    primary, backup = pair
    fallback = {
        "max_retries": 0,
        "circuit_breaker_threshold": 0.5,
        "circuit_breaker": {
            "min_requests": 3,
            "store": {"type": "redis", "url": "redis://127.0.0.1:1/0", "sync_interval_s": 0.1},
        },
    }
    primary.down(fault=ServiceUnavailable())
    document = openai_pair(primary.base_url, backup.base_url, fallback=fallback)
    with GatewayThread(document, KEYS) as gw:
        api = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
        for _ in range(5):
            api.chat.completions.create(model="main", messages=USER)
        assert gw.gateway is not None
        assert gw.gateway.executor.breakers.state(KEY) == "open"
    assert primary.request_count() == 3
