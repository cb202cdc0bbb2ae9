"""A model's `output_limit_tokens` through the official SDKs: a client's output maximum
above it reaches the fake vendor capped, and the answer says so in
`x-switchpoint-output-capped`; a maximum within it, or no limit, changes nothing."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.e2e.conftest import (
    CLAUDE_MAX_OUTPUT,
    CLIENT_KEY,
    HTTP,
    MODELS,
    Stack,
    StackFactory,
    add_responses_profile,
    without_ledger,
)

HEADER = "x-switchpoint-output-capped"
QUESTION = "What is the weather like in Paris today"
MESSAGES = [{"role": "user", "content": QUESTION}]
# Per fake model: the OpenAI one, the Claude one (whose default, CLAUDE_MAX_OUTPUT, is
# within its limit), the Gemini one.
LIMITS = {"oa": 100, "an": 2000, "ge": 300}
# A model the OpenAI fake serves over the Responses API, for Responses clients.
RESPONSES_MODEL, RESPONSES_LIMIT = "gpt-responses-test", 700


@pytest.fixture
def unlimited(make_stack: StackFactory) -> Stack:
    return make_stack(edit=without_ledger)


@pytest.fixture
def limited(make_stack: StackFactory) -> Stack:
    def add_limits(document: dict[str, Any]) -> None:
        without_ledger(document)
        models = document["models"]
        models[MODELS["oa"]] = {"output_limit_tokens": LIMITS["oa"]}
        models[MODELS["an"]] = {
            "max_output_tokens": CLAUDE_MAX_OUTPUT,
            "output_limit_tokens": LIMITS["an"],
        }
        models[MODELS["ge"]] = {"output_limit_tokens": LIMITS["ge"]}
        add_responses_profile(document, "rs", RESPONSES_MODEL)
        models[RESPONSES_MODEL] = {"output_limit_tokens": RESPONSES_LIMIT}

    return make_stack(edit=add_limits)


def upstream_max(stack: Stack, profile: str) -> Any:
    if profile == "rs":
        return stack.openai_fake.last_request.body["max_output_tokens"]
    body = stack.fake(profile).last_request.body
    if profile == "oa":
        return body.get("max_completion_tokens", body.get("max_tokens"))
    if profile == "an":
        return body["max_tokens"]
    return body["generationConfig"]["maxOutputTokens"]


# --- OpenAI SDK -----------------------------------------------------------------------------
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("profile", ["oa", "an", "ge"])
def test_openai_client_above_the_limit_is_capped_and_told(
    limited: Stack, profile: str, stream: bool
) -> None:
    with limited.openai().chat.completions.with_streaming_response.create(
        model=profile, messages=MESSAGES, max_completion_tokens=50_000, stream=stream
    ) as raw:
        assert raw.headers[HEADER] == str(LIMITS[profile])
        assert raw.headers["x-switchpoint-model"] == MODELS[profile]
        raw.read()
    assert upstream_max(limited, profile) == LIMITS[profile]
    [call] = limited.recorder.calls
    assert call.status == "ok" and call.served is not None
    assert call.served.output_capped == LIMITS[profile]
    assert f'"output_capped":{LIMITS[profile]}' in limited.recorder.logged()  # access log


def test_openai_client_legacy_max_tokens_is_renamed_and_capped(limited: Stack) -> None:
    """OpenAI's reasoning models refuse the deprecated `max_tokens`: OpenAI itself gets
    `max_completion_tokens`, capped."""
    raw = limited.openai().chat.completions.with_raw_response.create(
        model="oa", messages=MESSAGES, max_tokens=5000
    )
    assert raw.parse().choices[0].message.content == f"Hello from {MODELS['oa']}."
    assert raw.headers[HEADER] == str(LIMITS["oa"])
    sent = limited.openai_fake.last_request.body
    assert sent["max_completion_tokens"] == LIMITS["oa"] and "max_tokens" not in sent


@pytest.mark.parametrize("profile", ["oa", "an", "ge", "rs"])
def test_openai_responses_client_is_capped_and_shown_the_limit_applied(
    limited: Stack, profile: str
) -> None:
    raw = limited.openai().responses.with_raw_response.create(
        model=profile, input=QUESTION, max_output_tokens=9000
    )
    limit = RESPONSES_LIMIT if profile == "rs" else LIMITS[profile]
    assert raw.headers[HEADER] == str(limit)
    assert upstream_max(limited, profile) == limit
    # The response object states the maximum the answer was written under, not the
    # one asked for: an answer cut at the limit is `incomplete` by that figure.
    assert raw.parse().max_output_tokens == limit


@pytest.mark.parametrize("profile", ["oa", "an", "ge", "rs"])
def test_openai_responses_stream_shows_the_limit_applied(limited: Stack, profile: str) -> None:
    with limited.openai().responses.create(
        model=profile, input=QUESTION, max_output_tokens=9000, stream=True
    ) as stream:
        shown = {
            event.type: event.response.max_output_tokens
            for event in stream
            if event.type in ("response.created", "response.completed")
        }
    limit = RESPONSES_LIMIT if profile == "rs" else LIMITS[profile]
    assert shown == {"response.created": limit, "response.completed": limit}
    assert upstream_max(limited, profile) == limit


def test_openai_responses_maximum_within_the_limit_is_shown_as_asked(limited: Stack) -> None:
    response = limited.openai().responses.create(model="ge", input=QUESTION, max_output_tokens=42)
    assert response.max_output_tokens == 42


# --- Anthropic SDK ----------------------------------------------------------------------------
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("profile", ["an", "oa", "ge"])
def test_anthropic_client_above_the_limit_is_capped_and_told(
    limited: Stack, profile: str, stream: bool
) -> None:
    with limited.anthropic().messages.with_streaming_response.create(
        model=profile, max_tokens=64_000, messages=MESSAGES, stream=stream
    ) as raw:
        assert raw.headers[HEADER] == str(LIMITS[profile])
        raw.read()
    assert upstream_max(limited, profile) == LIMITS[profile]


def test_anthropic_client_thinking_budget_follows_the_cap(limited: Stack) -> None:
    message = limited.anthropic().messages.create(
        model="an",
        max_tokens=64_000,
        thinking={"type": "enabled", "budget_tokens": 32_000},
        messages=MESSAGES,
    )
    assert message.content
    sent = limited.anthropic_fake.last_request.body
    assert sent["max_tokens"] == LIMITS["an"]
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": LIMITS["an"] - 1}


# --- nothing to cap ------------------------------------------------------------------------
@pytest.mark.parametrize("profile", ["oa", "an", "ge"])
def test_a_maximum_within_the_limit_is_sent_as_is_without_the_header(
    limited: Stack, profile: str
) -> None:
    raw = limited.anthropic().messages.with_raw_response.create(
        model=profile, max_tokens=LIMITS[profile], messages=MESSAGES
    )
    assert HEADER not in raw.headers
    assert upstream_max(limited, profile) == LIMITS[profile]


def test_no_maximum_gets_the_anthropic_default_and_no_header(limited: Stack) -> None:
    raw = limited.openai().chat.completions.with_raw_response.create(model="an", messages=MESSAGES)
    assert HEADER not in raw.headers
    assert upstream_max(limited, "an") == CLAUDE_MAX_OUTPUT
    limited.openai().chat.completions.create(model="oa", messages=MESSAGES)
    assert upstream_max(limited, "oa") is None


@pytest.mark.parametrize(
    ("path", "profile", "body"),
    [
        (
            "/v1/chat/completions",
            "oa",
            {"model": "oa", "messages": MESSAGES, "max_completion_tokens": 90_000, "seed": 1},
        ),
        (
            "/v1/messages",
            "an",
            {"model": "an", "max_tokens": 90_000, "messages": MESSAGES, "top_k": 5},
        ),
    ],
)
def test_an_unset_limit_forwards_the_body_byte_identical(
    unlimited: Stack, path: str, profile: str, body: dict[str, Any]
) -> None:
    stack = unlimited
    response = HTTP.post(
        f"{stack.base_url}{path}",
        content=orjson.dumps(body),
        headers={
            "content-type": "application/json",
            "authorization": f"Bearer {CLIENT_KEY}",
            "anthropic-version": "2023-06-01",
        },
    )
    assert response.status_code == 200, response.text
    assert HEADER not in response.headers
    # Only `model` replaced, in place: not a byte more or less.
    expected = orjson.dumps({**body, "model": MODELS[profile]})
    assert stack.fake(profile).last_request.raw_body == expected
