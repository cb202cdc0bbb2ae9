"""Both SDKs against every vendor: answers, streams, usage, stop reasons, headers and
what reaches the upstream, in every direction of translation. The fields one protocol
has and another lacks are in `test_translation_fields.py`."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import (
    CLAUDE_MAX_OUTPUT,
    CLIENT_KEY,
    HTTP,
    MODELS,
    PROFILES,
    Stack,
)

PROVIDERS = {"oa": "openai", "an": "anthropic", "ge": "google"}
SYSTEM = "You are terse."
QUESTION = "What is the weather like in Paris today"


def hello(profile: str) -> str:
    return f"Hello from {MODELS[profile]}."


def assert_explained(headers: Any, profile: str) -> None:
    assert headers["x-switchpoint-provider"] == PROVIDERS[profile]
    assert headers["x-switchpoint-model"] == MODELS[profile]
    assert headers["x-switchpoint-profile"] == profile
    assert headers["x-switchpoint-fallback"] == "false"
    assert headers["x-switchpoint-request-id"]


def assert_upstream_auth(stack: Stack, profile: str) -> None:
    """The configured key reached the vendor; the client's credential did not."""
    request = stack.fake(profile).last_request
    assert request.credential == stack.keys()[profile]
    assert all(CLIENT_KEY not in value for value in request.headers.values())
    assert CLIENT_KEY.encode() not in request.raw_body


def system_as_sent(stack: Stack, profile: str) -> str:
    body = stack.fake(profile).last_request.body
    if profile == "oa":
        first = body["messages"][0]
        assert first["role"] in ("system", "developer")
        return str(first["content"])
    if profile == "an":
        system = body["system"]
        return system if isinstance(system, str) else "".join(b["text"] for b in system)
    return "".join(p["text"] for p in body["systemInstruction"]["parts"])


# --- OpenAI SDK ---------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_openai_client_answer(stack: Stack, profile: str) -> None:
    fake = stack.fake(profile)
    fake.input_tokens, fake.output_tokens, fake.cached_tokens = 40, 7, 10
    raw = stack.openai().chat.completions.with_raw_response.create(
        model=profile,
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
    )
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.model == MODELS[profile]
    choice = completion.choices[0]
    assert choice.message.content == hello(profile)
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 40
    assert completion.usage.completion_tokens == 7
    assert completion.usage.total_tokens == 47
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 10
    assert_explained(raw.headers, profile)
    assert_upstream_auth(stack, profile)
    assert system_as_sent(stack, profile) == SYSTEM


@pytest.mark.parametrize("profile", PROFILES)
def test_openai_client_stream(stack: Stack, profile: str) -> None:
    fake = stack.fake(profile)
    fake.input_tokens, fake.output_tokens, fake.cached_tokens = 25, 4, 5
    fake.reply_text = "one two three four"
    fake.stream_chunks = 4
    client = stack.openai()
    with client.chat.completions.with_streaming_response.create(
        model=profile,
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
    ) as response:
        assert_explained(response.headers, profile)
        chunks = list(response.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four"
    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(pieces) > 1  # streamed, not delivered whole
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["stop"]
    assert all(c.model == MODELS[profile] for c in chunks)
    usage = chunks[-1].usage
    assert usage is not None and not chunks[-1].choices
    assert (usage.prompt_tokens, usage.completion_tokens) == (25, 4)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 5
    assert stack.fake(profile).last_request.stream
    assert_upstream_auth(stack, profile)
    assert system_as_sent(stack, profile) == SYSTEM


@pytest.mark.parametrize("profile", PROFILES)
def test_openai_client_stream_without_usage_option(stack: Stack, profile: str) -> None:
    chunks = list(
        stack.openai().chat.completions.create(
            model=profile, stream=True, messages=[{"role": "user", "content": QUESTION}]
        )
    )
    assert all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == hello(profile)


@pytest.mark.parametrize("profile", PROFILES)
def test_openai_client_max_tokens_stop(stack: Stack, profile: str) -> None:
    stack.fake(profile).reply_text = "a b c d e f g h"
    completion = stack.openai().chat.completions.create(
        model=profile, max_tokens=3, messages=[{"role": "user", "content": QUESTION}]
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.choices[0].message.content == "a b c"


# --- Anthropic SDK ------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_anthropic_client_answer(stack: Stack, profile: str) -> None:
    fake = stack.fake(profile)
    fake.input_tokens, fake.output_tokens, fake.cached_tokens = 40, 7, 10
    raw = stack.anthropic().messages.with_raw_response.create(
        model=profile,
        max_tokens=200,
        system=SYSTEM,
        messages=[{"role": "user", "content": QUESTION}],
    )
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_")
    assert message.model == MODELS[profile]
    [block] = message.content
    assert block.type == "text" and block.text == hello(profile)
    assert message.stop_reason == "end_turn"
    # Anthropic counts the cached prompt apart from the rest.
    assert message.usage.input_tokens == 30
    assert message.usage.cache_read_input_tokens == 10
    assert message.usage.output_tokens == 7
    assert_explained(raw.headers, profile)
    assert_upstream_auth(stack, profile)
    assert system_as_sent(stack, profile) == SYSTEM


@pytest.mark.parametrize("profile", PROFILES)
def test_anthropic_client_stream(stack: Stack, profile: str) -> None:
    fake = stack.fake(profile)
    fake.input_tokens, fake.output_tokens, fake.cached_tokens = 25, 4, 5
    fake.reply_text = "one two three four"
    fake.stream_chunks = 4
    client = stack.anthropic()
    with client.messages.with_streaming_response.create(
        model=profile,
        max_tokens=200,
        system=SYSTEM,
        stream=True,
        messages=[{"role": "user", "content": QUESTION}],
    ) as response:
        assert_explained(response.headers, profile)
        events = list(response.parse())
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start"
    assert kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds.count("content_block_start") == kinds.count("content_block_stop") == 1
    deltas = [e.delta.text for e in events if e.type == "content_block_delta"]
    assert "".join(deltas) == "one two three four" and len(deltas) > 1
    start = events[0].message
    assert start.model == MODELS[profile]
    final = events[-2]
    assert final.delta.stop_reason == "end_turn"
    assert final.usage.output_tokens == 4
    # Whatever arrived when, the totals the SDK accumulates are the vendor's.
    with client.messages.stream(
        model=profile, max_tokens=200, messages=[{"role": "user", "content": QUESTION}]
    ) as stream:
        message = stream.get_final_message()
    assert message.content[0].type == "text"
    assert message.content[0].text == "one two three four"
    assert message.usage.input_tokens == 20
    assert message.usage.cache_read_input_tokens == 5
    assert message.usage.output_tokens == 4
    assert message.stop_reason == "end_turn"
    assert_upstream_auth(stack, profile)


@pytest.mark.parametrize("profile", PROFILES)
def test_anthropic_client_max_tokens_stop(stack: Stack, profile: str) -> None:
    stack.fake(profile).reply_text = "a b c d e f g h"
    message = stack.anthropic().messages.create(
        model=profile, max_tokens=3, messages=[{"role": "user", "content": QUESTION}]
    )
    assert message.stop_reason == "max_tokens"
    assert message.content[0].type == "text" and message.content[0].text == "a b c"


# --- what the vendors receive ---------------------------------------------------------


def test_served_model_is_reported(stack: Stack) -> None:
    stack.anthropic_fake.resolved_models = {"claude-test": "claude-test-20260101"}
    completion = stack.openai().chat.completions.create(
        model="an", messages=[{"role": "user", "content": QUESTION}]
    )
    assert completion.model == "claude-test-20260101"
    stream = stack.openai().chat.completions.create(
        model="an", stream=True, messages=[{"role": "user", "content": QUESTION}]
    )
    assert {c.model for c in stream} == {"claude-test-20260101"}


def test_anthropic_max_tokens_comes_from_the_models_table(stack: Stack) -> None:
    stack.openai().chat.completions.create(
        model="an", messages=[{"role": "user", "content": QUESTION}]
    )
    assert stack.anthropic_fake.last_request.body["max_tokens"] == CLAUDE_MAX_OUTPUT
    stack.openai().chat.completions.create(
        model="an", max_completion_tokens=77, messages=[{"role": "user", "content": QUESTION}]
    )
    assert stack.anthropic_fake.last_request.body["max_tokens"] == 77


def test_anthropic_version_header_and_path(stack: Stack) -> None:
    stack.openai().chat.completions.create(
        model="an", messages=[{"role": "user", "content": QUESTION}]
    )
    request = stack.anthropic_fake.last_request
    assert request.path == "/v1/messages"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["x-api-key"] == stack.anthropic_fake.api_key
    assert "authorization" not in request.headers


@pytest.mark.parametrize("profile", PROFILES)
def test_every_vendor_is_asked_for_bodies_without_compression(stack: Stack, profile: str) -> None:
    # The upstream client decodes no content coding, and without this header a server
    # may use any (RFC 9110).
    stack.openai().chat.completions.create(
        model=profile, messages=[{"role": "user", "content": QUESTION}]
    )
    assert stack.fake(profile).last_request.headers["accept-encoding"] == "identity"


def test_gemini_request_shape(stack: Stack) -> None:
    stack.openai().chat.completions.create(
        model="ge",
        max_tokens=50,
        temperature=0.3,
        top_p=0.9,
        stop=["END"],
        messages=[
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "reply"},
            {"role": "user", "content": "second"},
        ],
    )
    request = stack.gemini_fake.last_request
    assert request.path == "/v1beta/models/gemini-3-test:generateContent"
    assert request.headers["x-goog-api-key"] == stack.gemini_fake.api_key
    assert request.body["contents"] == [
        {"role": "user", "parts": [{"text": "first"}]},
        {"role": "model", "parts": [{"text": "reply"}]},
        {"role": "user", "parts": [{"text": "second"}]},
    ]
    assert request.body["generationConfig"] == {
        "maxOutputTokens": 50,
        "temperature": 0.3,
        "topP": 0.9,
        "stopSequences": ["END"],
    }
    stack.anthropic().messages.create(
        model="ge", max_tokens=10, stream=True, messages=[{"role": "user", "content": "x"}]
    ).close()
    assert stack.gemini_fake.last_request.path.endswith(":streamGenerateContent")
    assert stack.gemini_fake.last_request.query == {"alt": "sse"}


def test_anthropic_to_anthropic_is_forwarded_as_sent(stack: Stack) -> None:
    """Same protocol: every field the client sent survives, only `model` is replaced."""
    body: dict[str, Any] = {
        "model": "an",
        "max_tokens": 300,
        "system": [
            {"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}},
        ],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "first question"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "let me think", "signature": "sig-abc"},
                    {"type": "redacted_thinking", "data": "opaque"},
                    {"type": "text", "text": "an answer"},
                ],
            },
            {"role": "user", "content": "second question"},
        ],
        "metadata": {"user_id": "user-42"},
        "top_k": 5,
        "stop_sequences": ["STOP"],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    response = HTTP.post(
        f"{stack.base_url}/v1/messages",
        json=body,
        headers={"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"},
    )
    assert response.status_code == 200, response.text
    sent = stack.anthropic_fake.last_request.body
    assert sent == {**body, "model": "claude-test"}
    assert_upstream_auth(stack, "an")


def test_anthropic_client_translated_to_openai(stack: Stack) -> None:
    stack.anthropic().messages.create(
        model="oa",
        max_tokens=300,
        system=[{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}],
        # The current SDK no longer offers sampling parameters; older clients send them.
        extra_body={"temperature": 0.5},
        stop_sequences=["STOP"],
        metadata={"user_id": "user-42"},
        messages=[
            {"role": "user", "content": "first"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hidden", "signature": "sig"},
                    {"type": "text", "text": "answer"},
                ],
            },
            {"role": "user", "content": "second"},
        ],
    )
    sent = stack.openai_fake.last_request.body
    assert sent["model"] == "gpt-test"
    assert sent["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "answer"},
        {"role": "user", "content": "second"},
    ]
    assert sent["max_completion_tokens"] == 300
    assert sent["temperature"] == 0.5
    assert sent["stop"] == ["STOP"]
    assert sent["user"] == "user-42"


def test_openai_client_translated_to_anthropic(stack: Stack) -> None:
    stack.openai().chat.completions.create(
        model="an",
        temperature=1.7,
        user="user-7",
        stop="STOP",
        messages=[
            {"role": "system", "content": SYSTEM},
            {"role": "developer", "content": "Answer in English."},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "answer"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0"}},
                ],
            },
        ],
    )
    sent = stack.anthropic_fake.last_request.body
    assert sent["system"] == [
        {"type": "text", "text": SYSTEM},
        {"type": "text", "text": "Answer in English."},
    ]
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "first"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "answer"}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0"},
                },
            ],
        },
    ]
    # Current Claude models refuse sampling parameters: they are not translated.
    assert "temperature" not in sent and "top_p" not in sent
    assert sent["stop_sequences"] == ["STOP"]
    assert sent["metadata"] == {"user_id": "user-7"}


def test_cache_writes_reach_anthropic_clients(stack: Stack) -> None:
    fake = stack.anthropic_fake
    fake.input_tokens, fake.cached_tokens, fake.cache_creation_tokens = 100, 60, 30
    message = stack.anthropic().messages.create(
        model="an", max_tokens=50, messages=[{"role": "user", "content": QUESTION}]
    )
    assert message.usage.input_tokens == 10
    assert message.usage.cache_read_input_tokens == 60
    assert message.usage.cache_creation_input_tokens == 30
    completion = stack.openai().chat.completions.create(
        model="an", messages=[{"role": "user", "content": QUESTION}]
    )
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 100  # the whole prompt, as OpenAI counts it
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 60


def test_count_tokens(stack: Stack) -> None:
    short = stack.anthropic().messages.count_tokens(
        model="an", messages=[{"role": "user", "content": "hi"}]
    )
    long = stack.anthropic().messages.count_tokens(
        model="an",
        system=SYSTEM,
        messages=[{"role": "user", "content": "hello there " * 200}],
    )
    assert 0 < short.input_tokens < long.input_tokens
    assert long.input_tokens >= 400
    assert stack.anthropic_fake.request_count() == 0  # answered by the gateway itself


def test_anthropic_beta_header_reaches_anthropic_only(stack: Stack) -> None:
    client = stack.anthropic()
    for profile in ("an", "oa"):
        message = client.beta.messages.create(
            model=profile,
            max_tokens=50,
            messages=[{"role": "user", "content": QUESTION}],
            betas=["context-1m-2025-08-07"],
        )
        assert message.content[0].type == "text"
        assert message.content[0].text == hello(profile)
    assert stack.anthropic_fake.last_request.headers["anthropic-beta"] == "context-1m-2025-08-07"
    assert "anthropic-beta" not in stack.openai_fake.last_request.headers
