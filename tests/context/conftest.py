"""A gateway in front of four fakes, for the context (counting, summarization) tests.

Profiles:
* `main` (OpenAI fake, `gpt-main`, 100K context): where long conversations are sent;
* `claude` (Anthropic fake, `claude-opus-4-7`, 200K);
* `summarizer` (a second OpenAI fake, `gpt-sum`, 128K): writes the summaries;
* `long` (Gemini fake, `gemini-3-long`, 1M): the long-context profile.

The summarizer fake answers `SUMMARY` unless a test changes `summarizer_fake.reply_text`.
Fallback is on, retries off, so each scenario's upstream requests can be counted.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import openai
import pytest

from switchpoint.config.loader import parse_config
from switchpoint.server.background import BackgroundServer
from tests.e2e.conftest import Recorder
from tests.fakes import AnthropicFake, GeminiFake, OpenAIFake
from tests.fakes.fixtures import anthropic_fake, gemini_fake, openai_fake, refused_port

__all__ = ["anthropic_fake", "gemini_fake", "openai_fake", "refused_port"]

CLIENT_KEY = "sk-client-context-0123"
SUMMARY = "SUMMARY: the agent inspected the repository and ran the tests; two remain failing."
HTTP = httpx2.Client(timeout=120.0)


@dataclass
class ContextStack:
    main: OpenAIFake
    summarizer: OpenAIFake
    claude: AnthropicFake
    long: GeminiFake
    server: BackgroundServer
    recorder: Recorder
    document: dict[str, Any]

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def openai(self) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=f"{self.base_url}/v1",
            api_key=CLIENT_KEY,
            max_retries=0,
            http_client=HTTP,
            timeout=120.0,
        )

    def post(self, path: str, body: dict[str, Any], **headers: str) -> httpx2.Response:
        return HTTP.post(
            f"{self.base_url}{path}",
            json=body,
            headers={"authorization": f"Bearer {CLIENT_KEY}", **headers},
        )

    def summarizer_calls(self) -> int:
        return sum(1 for a in self.recorder.attempts if a.reason == "summarize")


def context_document(
    main: str, summarizer: str, claude: str, long: str, **context: Any
) -> dict[str, Any]:
    limits = {"timeout_s": 60, "first_token_timeout_s": 30, "stream_idle_timeout_s": 10}
    profiles: dict[str, Any] = {
        "main": {"model": "gpt-main", "provider": "main", "max_context": 100_000},
        "claude": {"model": "claude-opus-4-7", "provider": "claude", "max_context": 200_000},
        "summarizer": {"model": "gpt-sum", "provider": "summ", "max_context": 128_000},
        "long": {"model": "gemini-3-long", "provider": "google", "max_context": 1_000_000},
    }
    for name, spec in profiles.items():
        spec["cost_weight"] = 0.5
        spec["fallbacks"] = list(context.pop(f"{name}_fallbacks", ()))
    cost = context.pop("cost", {})  # `routing.cost` settings, not `routing.context`
    for name, strategy in context.pop("profile_strategies", {}).items():
        profiles[name]["summarization_strategy"] = strategy
    return {
        "server": {"max_body_bytes": 64 * 1024 * 1024},
        "providers": {
            "main": {"type": "openai", "base_url": main, "api_key_env": "K_MAIN", **limits},
            "summ": {"type": "openai", "base_url": summarizer, "api_key_env": "K_SUM", **limits},
            "claude": {"type": "anthropic", "base_url": claude, "api_key_env": "K_ANT", **limits},
            "google": {"type": "google", "base_url": long, "api_key_env": "K_GEM", **limits},
        },
        "routing": {
            "default_profile": "main",
            "context": {
                "long_context_profile": context.pop("long_context_profile", "long"),
                "summarizer_profile": "summarizer",
                **context,
            },
            "cost": {"budget_profile": None, **cost},
            "profiles": profiles,
            "fallback": {"enabled": True, "max_retries": 0},
        },
        "logging": {"access_log": False},
        "ledger": {"enabled": False},
    }


StackFactory = Callable[..., ContextStack]


@pytest.fixture
def summarizer_fake() -> Iterator[OpenAIFake]:
    with OpenAIFake() as fake:
        fake.reply_text = SUMMARY
        yield fake


@pytest.fixture
def make_stack(
    openai_fake: OpenAIFake,
    summarizer_fake: OpenAIFake,
    anthropic_fake: AnthropicFake,
    gemini_fake: GeminiFake,
) -> Iterator[StackFactory]:
    stacks: list[ContextStack] = []

    def make(**context: Any) -> ContextStack:
        document = context_document(
            openai_fake.base_url,
            summarizer_fake.base_url,
            anthropic_fake.origin,
            gemini_fake.origin,
            **context,
        )
        environ = {
            "K_MAIN": openai_fake.api_key,
            "K_SUM": summarizer_fake.api_key,
            "K_ANT": anthropic_fake.api_key,
            "K_GEM": gemini_fake.api_key,
        }
        server = BackgroundServer(parse_config(copy.deepcopy(document)), environ=environ)
        server.start()
        recorder = Recorder()
        assert server.gateway is not None
        server.gateway.bus.subscribe(recorder)
        stack = ContextStack(
            openai_fake, summarizer_fake, anthropic_fake, gemini_fake, server, recorder, document
        )
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.server.stop()


@pytest.fixture
def stack(make_stack: StackFactory) -> ContextStack:
    return make_stack()
