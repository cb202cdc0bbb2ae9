"""A provider the configuration adds (or overrides) without `api_key_env` reads its key
from its type's variable, as docs/configuration.md says ("per type": OPENAI_API_KEY,
ANTHROPIC_API_KEY, GEMINI_API_KEY), and serves with it."""

from __future__ import annotations

import anthropic
import openai

from switchpoint.config.loader import parse_config
from switchpoint.config.schema import Config
from switchpoint.server.background import BackgroundServer
from tests.fakes import AnthropicFake, OpenAIFake


def config(providers: dict[str, object], provider: str, model: str) -> Config:
    profile = {"model": model, "provider": provider, "max_context": 100_000, "cost_weight": 1}
    return parse_config(
        {
            "providers": providers,
            "routing": {"default_profile": "only", "profiles": {"only": profile}},
            "ledger": {"enabled": False},
            "logging": {"access_log": False},
        }
    )


def test_a_provider_without_api_key_env_uses_its_types_variable() -> None:
    with OpenAIFake() as openai_fake, AnthropicFake() as anthropic_fake:
        serves_with_the_types_key(openai_fake, anthropic_fake)


def serves_with_the_types_key(openai_fake: OpenAIFake, anthropic_fake: AnthropicFake) -> None:
    providers = {
        # An override of a built-in provider, and one of the team's own naming.
        "openai": {"type": "openai", "base_url": openai_fake.base_url},
        "claude-eu": {"type": "anthropic", "base_url": anthropic_fake.origin},
    }
    environ = {"OPENAI_API_KEY": openai_fake.api_key, "ANTHROPIC_API_KEY": anthropic_fake.api_key}
    with BackgroundServer(config(providers, "openai", "gpt-4o"), environ=environ) as running:
        client = openai.OpenAI(base_url=f"{running.base_url}/v1", api_key="x", max_retries=0)
        answer = client.chat.completions.create(
            model="only", messages=[{"role": "user", "content": "hi"}]
        )
        assert answer.choices[0].message.content
    assert openai_fake.last_request.credential == openai_fake.api_key
    with BackgroundServer(config(providers, "claude-eu", "claude-x"), environ=environ) as running:
        client_a = anthropic.Anthropic(base_url=running.base_url, api_key="x", max_retries=0)
        message = client_a.messages.create(
            model="only", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        )
        assert message.content
    assert anthropic_fake.last_request.credential == anthropic_fake.api_key


def test_a_key_with_a_trailing_newline_is_sent_without_it() -> None:
    # A Kubernetes secret made from a file, or `echo` into an env file, ends the key with
    # a newline: it used to crash the start-up (a line break in the authorization header).
    with OpenAIFake() as fake:
        providers = {"openai": {"type": "openai", "base_url": fake.base_url}}
        environ = {"OPENAI_API_KEY": f"  {fake.api_key}\n"}
        with BackgroundServer(config(providers, "openai", "gpt-4o"), environ=environ) as running:
            client = openai.OpenAI(base_url=f"{running.base_url}/v1", api_key="x", max_retries=0)
            client.chat.completions.create(
                model="only", messages=[{"role": "user", "content": "hi"}]
            )
        assert fake.last_request.credential == fake.api_key


def test_a_key_no_header_can_hold_leaves_its_provider_unavailable_not_the_gateway_down() -> None:
    with OpenAIFake() as fake:
        providers = {
            "openai": {"type": "openai", "base_url": fake.base_url},
            "spare": {"type": "openai", "base_url": fake.base_url, "api_key_env": "SPARE_KEY"},
        }
        profiles = {
            "only": {
                "model": "gpt-4o",
                "provider": "openai",
                "max_context": 100_000,
                "cost_weight": 1,
                "fallbacks": ["spare"],
            },
            "spare": {
                "model": "gpt-4o",
                "provider": "spare",
                "max_context": 100_000,
                "cost_weight": 1,
            },
        }
        cfg = parse_config(
            {
                "providers": providers,
                "routing": {"default_profile": "only", "profiles": profiles},
                "ledger": {"enabled": False},
                "logging": {"access_log": False},
            }
        )
        environ = {"OPENAI_API_KEY": "sk-\u20ac-pasted\x00", "SPARE_KEY": fake.api_key}
        with BackgroundServer(cfg, environ=environ) as running:
            assert running.gateway is not None
            reason = running.gateway.adapters["openai"].unavailable_reason
            assert reason is not None and "OPENAI_API_KEY holds characters" in reason
            client = openai.OpenAI(base_url=f"{running.base_url}/v1", api_key="x", max_retries=0)
            answer = client.chat.completions.with_raw_response.create(
                model="only", messages=[{"role": "user", "content": "hi"}]
            )
            assert answer.headers["x-switchpoint-provider"] == "spare"


def test_a_configured_header_replaces_the_gateways_own_whatever_its_case() -> None:
    with OpenAIFake() as fake:
        providers = {
            "openai": {
                "type": "openai",
                "base_url": fake.base_url,
                "headers": {"User-Agent": "team-x/1.0", "OpenAI-Organization": "org-1"},
            }
        }
        environ = {"OPENAI_API_KEY": fake.api_key}
        with BackgroundServer(config(providers, "openai", "gpt-4o"), environ=environ) as running:
            client = openai.OpenAI(base_url=f"{running.base_url}/v1", api_key="x", max_retries=0)
            client.chat.completions.create(
                model="only", messages=[{"role": "user", "content": "hi"}]
            )
        # One user-agent, not the gateway's and the team's joined.
        assert fake.last_request.headers["user-agent"] == "team-x/1.0"
        assert fake.last_request.headers["openai-organization"] == "org-1"
