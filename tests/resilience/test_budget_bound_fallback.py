"""A call moved to the budget profile for its budget stays within it when the budget
model's vendor says the request is too long: a larger-context profile is looked for
among those the budget allows, never the expensive one the call left."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.fakes import ContextLengthExceeded, OpenAIFake
from tests.resilience.gateway_thread import GatewayThread
from tests.resilience.topology import FAST_PROVIDER

USER = [{"role": "user", "content": "hello"}]
TIGHT = {"X-Switchpoint-Budget": "0.1"}


@pytest.fixture
def fake() -> Iterator[OpenAIFake]:
    with OpenAIFake() as upstream:
        yield upstream


def document(fake: OpenAIFake, **extra_profiles: dict[str, Any]) -> dict[str, Any]:
    """`premium` (cost weight 0.9, 1M context) is moved to `cheap` (0.2, 100k) by a
    tight budget; `cheap` has no fallbacks of its own."""
    models = ["expensive", "cheap", *(p["model"] for p in extra_profiles.values())]
    return {
        "logging": {"access_log": False},
        "providers": {
            "p": {"type": "openai", "base_url": fake.base_url, "api_key_env": "K", **FAST_PROVIDER}
        },
        "models": {m: {"input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0} for m in models},
        "routing": {
            "default_profile": "premium",
            "profiles": {
                "premium": {
                    "model": "expensive",
                    "provider": "p",
                    "max_context": 1_000_000,
                    "cost_weight": 0.9,
                    "fallbacks": ["cheap"],
                },
                "cheap": {"model": "cheap", "provider": "p", "max_context": 100_000,
                          "cost_weight": 0.2},
                **extra_profiles,
            },
            "context": {"long_context_profile": "premium", "summarization_strategy": "none"},
            "cost": {"budget_profile": "cheap"},
            "fallback": {"max_retries": 0},
        },
    }  # fmt: skip


def test_a_budget_moved_call_is_not_sent_back_to_the_expensive_profile(fake: OpenAIFake) -> None:
    fake.enqueue(ContextLengthExceeded(), model="cheap")
    with GatewayThread(document(fake), {"K": "sk-fake-openai"}) as gw:
        api = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
        with pytest.raises(openai.BadRequestError) as caught:
            api.chat.completions.create(model="premium", messages=USER, extra_headers=TIGHT)
    assert caught.value.code == "context_length_exceeded"
    assert [r.body["model"] for r in fake.requests] == ["cheap"]


def test_a_larger_profile_within_the_budget_takes_the_call(fake: OpenAIFake) -> None:
    fake.enqueue(ContextLengthExceeded(), model="cheap")
    roomy = {"model": "roomy", "provider": "p", "max_context": 200_000, "cost_weight": 0.3}
    deep = {"model": "deep", "provider": "p", "max_context": 2_000_000, "cost_weight": 0.95}
    with GatewayThread(document(fake, roomy=roomy, deep=deep), {"K": "sk-fake-openai"}) as gw:
        api = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
        raw = api.chat.completions.with_raw_response.create(
            model="premium", messages=USER, extra_headers=TIGHT
        )
    assert raw.headers["x-switchpoint-rules"] == "budget_fallback"
    assert raw.headers["x-switchpoint-model"] == "roomy"
    assert raw.headers["x-switchpoint-fallback-reasons"] == "context_length"
    assert [r.body["model"] for r in fake.requests] == ["cheap", "roomy"]


def test_without_a_budget_move_the_long_context_profile_still_takes_it(fake: OpenAIFake) -> None:
    fake.enqueue(ContextLengthExceeded(), model="cheap")
    with GatewayThread(document(fake), {"K": "sk-fake-openai"}) as gw:
        api = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
        raw = api.chat.completions.with_raw_response.create(model="cheap", messages=USER)
    assert raw.headers["x-switchpoint-model"] == "expensive"
    assert [r.body["model"] for r in fake.requests] == ["cheap", "expensive"]
