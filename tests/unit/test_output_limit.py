"""`models.<name>.output_limit_tokens`: a request's output maximum above what the target
model writes is capped to it in the body sent, in each vendor protocol's own field; the
configuration keeps the default maximum within the limit; budgets count the cap."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchpoint.budgets.estimate import CostEstimator
from switchpoint.chat.request import ChatRequest, Decoder
from switchpoint.compaction.assessment import reserved_output
from switchpoint.config import ConfigError
from switchpoint.config.loader import parse_config
from switchpoint.config.schema import MAX_TOKEN_COUNT, ModelConfig
from switchpoint.execution.records import AttemptRecord, CallRecord
from switchpoint.ingress.chat_endpoint import OUTPUT_CAPPED_HEADER, explain_headers
from switchpoint.protocols.anthropic import PROTOCOL as ANTHROPIC
from switchpoint.protocols.anthropic.request import decode_request as decode_anthropic
from switchpoint.protocols.openai import PROTOCOL as OPENAI
from switchpoint.protocols.openai.request import decode_request as decode_openai
from switchpoint.protocols.openai_responses import PROTOCOL as RESPONSES
from switchpoint.protocols.openai_responses.request import decode_request as decode_responses
from switchpoint.providers.anthropic import DEFAULT_MAX_TOKENS
from switchpoint.providers.base import ProviderAdapter
from switchpoint.providers.limits import AttemptLimits
from switchpoint.providers.registry import build_adapters
from switchpoint.routing.registry import Registry
from switchpoint.transport.http_client import HttpClient

LIMIT = 1000
# `limited` has the limit, `open` none: the same adapter serves both.
MODELS: dict[str, Any] = {"limited": {"output_limit_tokens": LIMIT}, "open": {}}
DECODERS: dict[str, Decoder] = {
    OPENAI: decode_openai,
    ANTHROPIC: decode_anthropic,
    RESPONSES: decode_responses,
}
MESSAGES = [{"role": "user", "content": "hello"}]


def adapters(models: dict[str, Any] | None = None) -> dict[str, ProviderAdapter]:
    base = "http://127.0.0.1:9"
    document = {
        "providers": {
            name: {"type": kind, "base_url": f"{base}/v1" if "openai" in kind else base}
            for name, kind in {
                "oa": "openai",
                "compat": "openai_compatible",
                "rs": "openai_responses",
                "an": "anthropic",
                "ge": "google",
            }.items()
        },
        "models": MODELS if models is None else models,
        "routing": {
            "default_profile": "p",
            "profiles": {
                "p": {"model": "open", "provider": "oa", "max_context": 100_000, "cost_weight": 1}
            },
        },
    }
    return build_adapters(parse_config(document), HttpClient(), {})


ADAPTERS = adapters()


def limits() -> AttemptLimits:
    return AttemptLimits(connect_s=1, first_token_s=1, idle_s=1, deadline=1e12)


def request(protocol: str, body: dict[str, Any], *, stream: bool = False) -> ChatRequest:
    return ChatRequest(protocol, body, stream=stream, decoder=DECODERS[protocol])


def sent(
    provider: str,
    req: ChatRequest,
    model: str = "limited",
    *,
    stream: bool = False,
    attempt: AttemptLimits | None = None,
    table: dict[str, ProviderAdapter] | None = None,
) -> dict[str, Any]:
    adapter: Any = (table or ADAPTERS)[provider]
    attempt = attempt if attempt is not None else limits()
    if provider == "ge":
        raw = adapter._body(req, model, attempt)
    else:
        raw = adapter._body(req, model, stream=stream, limits=attempt)
    decoded: dict[str, Any] = orjson.loads(raw)
    return decoded


# --- configuration -------------------------------------------------------------------------
def test_a_default_above_the_limit_is_a_config_error_naming_both_keys() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({"models": {"m": {"max_output_tokens": 5000, "output_limit_tokens": 4000}}})
    [problem] = [str(p) for p in raised.value.problems]
    assert problem.startswith("models.m: ")
    assert "max_output_tokens (5000) cannot exceed output_limit_tokens (4000)" in problem


@pytest.mark.parametrize("value", [0, -1, MAX_TOKEN_COUNT + 1, "many"])
def test_the_limit_must_be_a_positive_token_count(value: object) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({"models": {"m": {"output_limit_tokens": value}}})
    assert "models.m.output_limit_tokens" in str(raised.value.problems[0])


def test_a_default_equal_to_the_limit_or_either_alone_is_valid() -> None:
    config = parse_config(
        {
            "models": {
                "both": {"max_output_tokens": 4000, "output_limit_tokens": 4000},
                "limit": {"output_limit_tokens": 4000},
                "default": {"max_output_tokens": 9000},
            }
        }
    )
    assert config.models["both"].output_limit_tokens == 4000
    assert config.models["limit"].max_output_tokens is None
    assert config.models["default"].output_limit_tokens is None


def test_the_built_in_limits_hold_their_defaults() -> None:
    models = parse_config({}).models
    assert models["claude-opus-4-7"].output_limit_tokens == 128_000
    assert models["gemini-3.1-pro"].output_limit_tokens == 65_536
    # Not documented by OpenAI where it could be checked: left unset.
    assert models["gpt-5.5"].output_limit_tokens is None
    assert models["gpt-5.4"].output_limit_tokens is None
    for config in models.values():
        if config.max_output_tokens is not None and config.output_limit_tokens is not None:
            assert config.max_output_tokens <= config.output_limit_tokens


def test_an_own_entry_for_a_built_in_model_replaces_its_limit_with_the_rest() -> None:
    models = parse_config({"models": {"claude-opus-4-7": {"input_usd_per_mtok": 1.0}}}).models
    assert models["claude-opus-4-7"].output_limit_tokens is None
    models = parse_config({"models": {"claude-opus-4-7": {"output_limit_tokens": 16000}}}).models
    assert models["claude-opus-4-7"].output_limit_tokens == 16000


# --- native bodies (the client's own protocol): only the maximum changes -------------------------
@pytest.mark.parametrize("field", ["max_completion_tokens", "max_tokens"])
@pytest.mark.parametrize("stream", [False, True])
def test_openai_native_body_is_capped(field: str, stream: bool) -> None:
    body = {"model": "p", "messages": MESSAGES, field: 50_000, "seed": 3}
    attempt = limits()
    out = sent("oa", request(OPENAI, body, stream=stream), stream=stream, attempt=attempt)
    # OpenAI itself gets the deprecated `max_tokens` as `max_completion_tokens`.
    assert out["max_completion_tokens"] == LIMIT and "max_tokens" not in out
    assert out["seed"] == 3 and out["model"] == "limited"
    assert attempt.stats.output_capped == LIMIT
    assert body[field] == 50_000  # the client's body is untouched


def test_openai_native_body_with_both_fields_keeps_the_current_one() -> None:
    body = {"model": "p", "messages": MESSAGES, "max_tokens": 5000, "max_completion_tokens": 500}
    out = sent("oa", request(OPENAI, body))
    assert out["max_completion_tokens"] == 500 and "max_tokens" not in out


def test_anthropic_native_body_is_capped_with_its_thinking_budget() -> None:
    thinking = {"type": "enabled", "budget_tokens": 4000}
    body = {"model": "p", "max_tokens": 8000, "messages": MESSAGES, "thinking": thinking}
    attempt = limits()
    out = sent("an", request(ANTHROPIC, body), attempt=attempt)
    assert out["max_tokens"] == LIMIT
    # Anthropic refuses a thinking budget that is not below max_tokens.
    assert out["thinking"] == {"type": "enabled", "budget_tokens": LIMIT - 1}
    assert thinking["budget_tokens"] == 4000
    assert attempt.stats.output_capped == LIMIT


def test_anthropic_thinking_budget_below_the_limit_is_kept() -> None:
    body = {
        "model": "p",
        "max_tokens": 8000,
        "messages": MESSAGES,
        "thinking": {"type": "enabled", "budget_tokens": 512},
    }
    assert sent("an", request(ANTHROPIC, body))["thinking"]["budget_tokens"] == 512


def test_responses_native_body_is_capped() -> None:
    body = {"model": "p", "input": "hello", "max_output_tokens": 70_000}
    attempt = limits()
    out = sent("rs", request(RESPONSES, body), attempt=attempt)
    assert out["max_output_tokens"] == LIMIT and out["store"] is False
    assert attempt.stats.output_capped == LIMIT


# --- translated bodies: the target protocol's field ---------------------------------------------
def test_openai_target_of_an_anthropic_client_caps_max_completion_tokens() -> None:
    body = {"model": "p", "max_tokens": 8000, "messages": MESSAGES}
    assert sent("oa", request(ANTHROPIC, body))["max_completion_tokens"] == LIMIT
    assert sent("compat", request(ANTHROPIC, body))["max_tokens"] == LIMIT


def test_responses_target_of_a_chat_client_caps_max_output_tokens() -> None:
    body = {"model": "p", "messages": MESSAGES, "max_completion_tokens": 8000}
    assert sent("rs", request(OPENAI, body))["max_output_tokens"] == LIMIT


def test_anthropic_target_of_an_openai_client_caps_max_tokens() -> None:
    body = {"model": "p", "messages": MESSAGES, "max_tokens": 8000}
    attempt = limits()
    assert sent("an", request(OPENAI, body), attempt=attempt)["max_tokens"] == LIMIT
    assert attempt.stats.output_capped == LIMIT


def test_gemini_target_caps_generation_config_max_output_tokens() -> None:
    body = {"model": "p", "messages": MESSAGES, "max_tokens": 8000, "temperature": 0.5}
    attempt = limits()
    out = sent("ge", request(OPENAI, body), attempt=attempt)
    assert out["generationConfig"] == {"maxOutputTokens": LIMIT, "temperature": 0.5}
    assert attempt.stats.output_capped == LIMIT


def test_a_rewritten_anthropic_request_is_capped_too() -> None:
    body = {"model": "p", "max_tokens": 8000, "messages": MESSAGES}
    original = request(ANTHROPIC, body)
    replaced = original.replaced(original.conversation())
    assert not replaced.native
    assert sent("an", replaced)["max_tokens"] == LIMIT


# --- the Anthropic default ---------------------------------------------------------------------
def test_anthropic_default_max_tokens_never_exceeds_the_limit() -> None:
    table = adapters({"tiny": {"output_limit_tokens": 100}, "open": {}})
    body = {"model": "p", "messages": MESSAGES}  # an OpenAI client without a maximum
    attempt = limits()
    assert (
        sent("an", request(OPENAI, body), "tiny", attempt=attempt, table=table)["max_tokens"] == 100
    )
    # A default is not the client's maximum: nothing was capped, no header.
    assert attempt.stats.output_capped is None
    assert sent("an", request(OPENAI, body), "open", table=table)["max_tokens"] == (
        DEFAULT_MAX_TOKENS
    )


def test_anthropic_default_is_max_output_tokens_within_the_limit() -> None:
    table = adapters({"m": {"max_output_tokens": 300, "output_limit_tokens": 500}})
    body = {"model": "p", "messages": MESSAGES}
    assert sent("an", request(OPENAI, body), "m", table=table)["max_tokens"] == 300


# --- nothing changes when nothing needs to --------------------------------------------------------
@pytest.mark.parametrize(
    ("provider", "protocol", "body"),
    [
        (
            "oa",
            OPENAI,
            {"model": "p", "messages": MESSAGES, "max_completion_tokens": 999_999, "n": 1},
        ),
        ("an", ANTHROPIC, {"model": "p", "max_tokens": 999_999, "messages": MESSAGES}),
    ],
)
def test_an_unset_limit_leaves_the_native_body_byte_identical(
    provider: str, protocol: str, body: dict[str, Any]
) -> None:
    adapter: Any = ADAPTERS[provider]
    attempt = limits()
    raw = adapter._body(request(protocol, body), "open", stream=False, limits=attempt)
    assert raw == orjson.dumps({**body, "model": "open"})
    assert attempt.stats.output_capped is None


@pytest.mark.parametrize(
    ("provider", "protocol", "body"),
    [
        ("oa", OPENAI, {"model": "p", "messages": MESSAGES, "max_completion_tokens": LIMIT}),
        ("oa", OPENAI, {"model": "p", "messages": MESSAGES}),
        ("an", ANTHROPIC, {"model": "p", "max_tokens": 10, "messages": MESSAGES}),
        ("rs", RESPONSES, {"model": "p", "input": "hi", "max_output_tokens": 5}),
        ("ge", OPENAI, {"model": "p", "messages": MESSAGES, "max_tokens": LIMIT}),
    ],
)
def test_a_maximum_within_the_limit_or_none_sends_the_same_bytes_as_no_limit(
    provider: str, protocol: str, body: dict[str, Any]
) -> None:
    adapter: Any = ADAPTERS[provider]
    attempt = limits()

    def raw(model: str) -> bytes:
        req = request(protocol, body)
        if provider == "ge":
            return bytes(adapter._body(req, model, attempt))
        return bytes(adapter._body(req, model, stream=False, limits=attempt))

    with_limit, without = raw("limited"), raw("open")
    assert with_limit.replace(b'"limited"', b'"open"') == without
    assert attempt.stats.output_capped is None


def test_a_bool_is_not_taken_for_a_maximum() -> None:
    body = {"model": "p", "messages": MESSAGES, "max_completion_tokens": True}
    assert sent("oa", request(OPENAI, body))["max_completion_tokens"] is True


# --- budgets and explanation ----------------------------------------------------------------------
def test_budget_estimates_count_the_capped_maximum() -> None:
    estimator = CostEstimator(
        {
            "limited": ModelConfig(
                output_limit_tokens=LIMIT, input_usd_per_mtok=0.0, output_usd_per_mtok=1.0
            ),
            # A default maximum bounds nothing: a request that sets more sends more.
            "default": ModelConfig(max_output_tokens=300),
        },
        reserve_output_tokens=2000,
    )
    assert estimator.estimate("limited", 100, 50_000).tokens == 100 + LIMIT
    assert estimator.estimate("limited", 100, 500).tokens == 600
    assert estimator.estimate("limited", 100, None).tokens == 100 + LIMIT  # reserve capped
    assert estimator.estimate("default", 100, 5000).tokens == 5100
    assert estimator.estimate("default", 100, None).tokens == 2100
    assert estimator.estimate("limited", 0, 50_000).usd == pytest.approx(LIMIT / 1e6)


def _call(output_capped: int | None) -> CallRecord:
    call = CallRecord("req", OPENAI, False, 0.0, 0.0)
    attempt = AttemptRecord("p", "oa", "limited", "first", 0.0, output_capped=output_capped)
    call.attempts.append(attempt)
    call.served = attempt
    return call


def test_the_explain_header_names_the_limit_when_the_served_attempt_was_capped() -> None:
    assert (OUTPUT_CAPPED_HEADER, str(LIMIT)) in explain_headers(_call(LIMIT))
    assert OUTPUT_CAPPED_HEADER == "x-switchpoint-output-capped"
    assert OUTPUT_CAPPED_HEADER not in dict(explain_headers(_call(None)))


def test_compression_keeps_free_only_the_output_the_model_can_write() -> None:
    # A client's maximum above the limit is capped when sent, so reserving all of it
    # would compress (or move) a conversation that fits.
    config = parse_config({})
    registry = Registry.from_config(config, unavailable_providers=set())
    opus = next(p for p in registry.profiles.values() if p.model == "claude-opus-4-7")
    assert reserved_output(config, opus, 500_000) == 128_000
    assert reserved_output(config, opus, 2_000) == 2_000
    assert reserved_output(config, opus, None) == 32_000  # the model's default maximum
