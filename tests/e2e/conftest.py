"""A gateway in-process, pointed at the three fake vendors, and official SDK clients.

Profiles: `oa` is served by the OpenAI fake (`gpt-test`), `an` by the Anthropic fake
(`claude-test`), `ge` by the Gemini fake (`gemini-3-test`). Fallback is off and there are
no retries unless a test asks, so each request reaches exactly the upstream it names.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from switchpoint.config.loader import parse_config
from switchpoint.events import Listener
from switchpoint.execution.records import AttemptRecord, CallRecord
from switchpoint.observability.access_log import AccessLog
from switchpoint.server.background import BackgroundServer
from tests.fakes import AnthropicFake, GeminiFake, OpenAIFake
from tests.fakes.fixtures import anthropic_fake, gemini_fake, openai_fake

__all__ = ["anthropic_fake", "gemini_fake", "openai_fake"]

# What clients authenticate to the gateway with; it must never reach a vendor.
CLIENT_KEY = "sk-client-secret-0123456789"
MODELS = {"oa": "gpt-test", "an": "claude-test", "ge": "gemini-3-test"}
PROFILES = tuple(MODELS)
CLAUDE_MAX_OUTPUT = 1234

# One HTTP client for every test in a process: building one (its TLS context) costs
# more than a whole test. The SDK clients share it too, so they are never closed.
HTTP = httpx2.Client(timeout=30.0)


class Recorder(Listener):
    """Keeps every call and attempt, and the access log's lines, to check what was logged."""

    def __init__(self) -> None:
        self.calls: list[CallRecord] = []
        self.attempts: list[AttemptRecord] = []
        self.log = io.BytesIO()
        self.access_log = AccessLog(self.log)

    def on_attempt(self, call: CallRecord, attempt: AttemptRecord) -> None:
        self.attempts.append(attempt)

    def on_call(self, call: CallRecord) -> None:
        self.calls.append(call)
        self.access_log.on_call(call)

    def logged(self) -> str:
        self.access_log.flush()
        texts = [self.log.getvalue().decode()]
        texts += [f"{c.error} {c.error_kind}" for c in self.calls]
        texts += [f"{a.error} {a.outcome}" for a in self.attempts]
        return "\n".join(texts)


@dataclass
class Stack:
    openai_fake: OpenAIFake
    anthropic_fake: AnthropicFake
    gemini_fake: GeminiFake
    server: BackgroundServer
    recorder: Recorder

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def fake(self, profile: str) -> OpenAIFake | AnthropicFake | GeminiFake:
        return {"oa": self.openai_fake, "an": self.anthropic_fake, "ge": self.gemini_fake}[profile]

    def keys(self) -> dict[str, str]:
        return {
            "oa": self.openai_fake.api_key,
            "an": self.anthropic_fake.api_key,
            "ge": self.gemini_fake.api_key,
        }

    def openai(self, **kwargs: Any) -> openai.OpenAI:
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("api_key", CLIENT_KEY)
        return openai.OpenAI(base_url=f"{self.base_url}/v1", http_client=HTTP, **kwargs)

    def anthropic(self, **kwargs: Any) -> anthropic.Anthropic:
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("api_key", CLIENT_KEY)
        return anthropic.Anthropic(base_url=self.base_url, http_client=HTTP, **kwargs)


def gateway_document(
    openai_url: str, anthropic_url: str, google_url: str, **overrides: Any
) -> dict[str, Any]:
    limits = {"timeout_s": 20, "first_token_timeout_s": 10, "stream_idle_timeout_s": 5}
    document: dict[str, Any] = {
        "server": {
            "max_body_bytes": overrides.pop("max_body_bytes", 1024 * 1024),
            "max_in_flight": overrides.pop("max_in_flight", None),
            "max_loop_lag_ms": overrides.pop("max_loop_lag_ms", None),
        },
        "providers": {
            "openai": {
                "type": "openai",
                "base_url": openai_url,
                "api_key_env": "TEST_OPENAI_KEY",
                **limits,
            },
            "anthropic": {
                "type": "anthropic",
                "base_url": anthropic_url,
                "api_key_env": "TEST_ANTHROPIC_KEY",
                **limits,
            },
            "google": {
                "type": "google",
                "base_url": google_url,
                "api_key_env": "TEST_GEMINI_KEY",
                **limits,
            },
        },
        "models": {"claude-test": {"max_output_tokens": CLAUDE_MAX_OUTPUT}},
        "routing": {
            "default_profile": "oa",
            "context": {"long_context_profile": None},
            "cost": {"budget_profile": None},
            "profiles": {
                name: {
                    "model": model,
                    "provider": {"oa": "openai", "an": "anthropic", "ge": "google"}[name],
                    "max_context": 100_000,
                    "cost_weight": 0.5,
                    "fallbacks": list(overrides.pop(f"{name}_fallbacks", ())),
                }
                for name, model in MODELS.items()
            },
            "fallback": {
                "enabled": overrides.pop("fallback", False),
                "max_retries": overrides.pop("max_retries", 0),
                "backoff_base_s": 0.01,
                "backoff_max_s": 0.05,
                "circuit_breaker": {"min_requests": overrides.pop("breaker_min_requests", 10)},
            },
        },
        "logging": {"access_log": False},
    }
    assert not overrides, f"unknown overrides: {overrides}"
    return document


def without_ledger(document: dict[str, Any]) -> None:
    """A `make_stack` edit for tests not about accounting: the gateway keeps no ledger."""
    document["ledger"] = {"enabled": False}


def add_responses_profile(
    document: dict[str, Any], profile: str, model: str, fallbacks: tuple[str, ...] = ()
) -> None:
    """A profile whose model the OpenAI fake serves over the Responses API (a provider
    `openai_responses` beside `openai`, with the same key and URL)."""
    document["providers"]["openai_responses"] = {
        **document["providers"]["openai"],
        "type": "openai_responses",
    }
    document["routing"]["profiles"][profile] = {
        "model": model,
        "provider": "openai_responses",
        "max_context": 100_000,
        "cost_weight": 0.5,
        "fallbacks": list(fallbacks),
    }


StackFactory = Callable[..., Stack]


@pytest.fixture
def make_stack(
    openai_fake: OpenAIFake, anthropic_fake: AnthropicFake, gemini_fake: GeminiFake
) -> Iterator[StackFactory]:
    stacks: list[Stack] = []

    def make(*, edit: Callable[[dict[str, Any]], None] | None = None, **overrides: Any) -> Stack:
        """`overrides` as `gateway_document` takes them; `edit` changes the document
        further (a profile or provider of a test's own) before it is parsed."""
        document = gateway_document(
            openai_fake.base_url, anthropic_fake.base_url, gemini_fake.base_url, **overrides
        )
        if edit is not None:
            edit(document)
        config = parse_config(document)
        environ = {
            "TEST_OPENAI_KEY": openai_fake.api_key,
            "TEST_ANTHROPIC_KEY": anthropic_fake.api_key,
            "TEST_GEMINI_KEY": gemini_fake.api_key,
        }
        server = BackgroundServer(config, environ=environ).start()
        recorder = Recorder()
        assert server.gateway is not None
        server.gateway.bus.subscribe(recorder)
        stack = Stack(openai_fake, anthropic_fake, gemini_fake, server, recorder)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.server.stop()


@pytest.fixture
def stack(make_stack: StackFactory) -> Stack:
    return make_stack()
