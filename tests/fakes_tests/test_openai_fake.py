"""The OpenAI fake, driven by the official ``openai`` SDK (and raw HTTP where
the wire bytes themselves are the point)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx2
import openai
import pytest
from openai.types.chat import ChatCompletionChunk, ChatCompletionToolParam

from tests.fakes import (
    REFUSAL_TEXT,
    AcceptThenSilent,
    BadGateway,
    ConnectionReset,
    ContentPolicy,
    ContextLengthExceeded,
    CutAfter,
    InvalidEvent,
    MalformedBody,
    MissingSentinel,
    OpenAIFake,
    Overloaded,
    QuotaExhausted,
    RateLimited,
    Refusal,
    ServerError,
    ServiceUnavailable,
    SlowFirstToken,
    StallAfter,
    StreamErrorEvent,
)

MODEL = "gpt-test"
USER: list[Any] = [{"role": "user", "content": "What is the weather like"}]
TOOLS: list[ChatCompletionToolParam] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


# Building an HTTP client (its TLS context) costs more than a whole fake
# exchange, so the sync SDK clients share one.
_HTTP = httpx2.Client()


def client(fake: OpenAIFake, **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(
        base_url=fake.base_url, api_key="sk-fake-openai", http_client=_HTTP, **kwargs
    )


def aclient(fake: OpenAIFake, **kwargs: Any) -> openai.AsyncOpenAI:
    kwargs.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-fake-openai", **kwargs)


def stream_chunks(fake: OpenAIFake, **kwargs: Any) -> list[ChatCompletionChunk]:
    return list(
        client(fake).chat.completions.create(model=MODEL, messages=USER, stream=True, **kwargs)
    )


def raw_stream(fake: OpenAIFake, body: dict[str, Any]) -> bytes:
    response = _HTTP.post(
        f"{fake.base_url}/chat/completions",
        json={"model": MODEL, "messages": USER, "stream": True, **body},
        headers={"authorization": "Bearer sk-fake-openai"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    return response.content


# ------------------------------------------------------------------ answers


def test_non_stream_answer_and_usage(openai_fake: OpenAIFake) -> None:
    completion = client(openai_fake).chat.completions.create(model=MODEL, messages=USER)
    assert completion.object == "chat.completion"
    assert completion.model == MODEL
    choice = completion.choices[0]
    assert choice.message.content == f"Hello from {MODEL}."
    assert choice.message.role == "assistant"
    assert choice.finish_reason == "stop"
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (5, 3, 8)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert completion.id.startswith("chatcmpl-")


def test_configured_usage_maps_to_openai_fields(openai_fake: OpenAIFake) -> None:
    openai_fake.input_tokens = 1000
    openai_fake.cached_tokens = 800
    openai_fake.output_tokens = 7
    openai_fake.reasoning_tokens = 5
    openai_fake.reply_text = "Configured."
    openai_fake.resolved_models = {MODEL: "gpt-test-2026-01-01"}
    completion = client(openai_fake).chat.completions.create(model=MODEL, messages=USER)
    assert completion.model == "gpt-test-2026-01-01"
    assert completion.choices[0].message.content == "Configured."
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens_details and usage.completion_tokens_details
    assert usage.prompt_tokens == 1000
    assert usage.prompt_tokens_details.cached_tokens == 800
    # Reasoning tokens are part of completion_tokens on OpenAI.
    assert usage.completion_tokens == 12
    assert usage.completion_tokens_details.reasoning_tokens == 5
    assert usage.total_tokens == 1012


async def test_async_client_non_stream_and_stream(openai_fake: OpenAIFake) -> None:
    async with aclient(openai_fake) as api:
        completion = await api.chat.completions.create(model=MODEL, messages=USER)
        stream = await api.chat.completions.create(model=MODEL, messages=USER, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert completion.choices[0].message.content == text == f"Hello from {MODEL}."


def test_stream_chunks_and_include_usage(openai_fake: OpenAIFake) -> None:
    openai_fake.cached_tokens = 2
    chunks = stream_chunks(openai_fake, stream_options={"include_usage": True})
    assert all(c.object == "chat.completion.chunk" and c.model == MODEL for c in chunks)
    assert len({c.id for c in chunks}) == 1
    first, *middle, finish, usage_chunk = chunks
    assert first.choices[0].delta.role == "assistant"
    assert first.choices[0].delta.content == ""
    assert len(middle) == 3  # stream_chunks defaults to 3 pieces
    assert "".join(c.choices[0].delta.content or "" for c in middle) == f"Hello from {MODEL}."
    assert finish.choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks[:-1])
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None and usage_chunk.usage.prompt_tokens_details
    assert usage_chunk.usage.prompt_tokens == 5
    assert usage_chunk.usage.completion_tokens == 3
    assert usage_chunk.usage.prompt_tokens_details.cached_tokens == 2


def test_stream_wire_bytes(openai_fake: OpenAIFake) -> None:
    openai_fake.stream_chunks = 2
    raw = raw_stream(openai_fake, {"stream_options": {"include_obfuscation": False}})
    events = raw.split(b"\n\n")
    assert events[-2] == b"data: [DONE]" and events[-1] == b""
    payloads = [json.loads(e[len(b"data: ") :]) for e in events[:-2]]
    assert len(payloads) == 4  # role, two pieces, finish
    assert all("usage" not in p and "obfuscation" not in p for p in payloads)
    assert payloads[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    with_padding = raw_stream(openai_fake, {})
    assert b'"obfuscation":' in with_padding


def test_stream_chunk_count_and_gap_are_configurable(openai_fake: OpenAIFake) -> None:
    openai_fake.stream_chunks = 5
    openai_fake.chunk_gap = 0.03
    started = time.monotonic()
    chunks = stream_chunks(openai_fake)
    elapsed = time.monotonic() - started
    pieces = [c.choices[0].delta.content for c in chunks[1:-1]]
    assert len(pieces) == 5
    assert elapsed >= 0.03 * (len(chunks) - 1)


def test_max_tokens_truncates_with_finish_reason_length(openai_fake: OpenAIFake) -> None:
    openai_fake.reply_text = "one two three four five"
    completion = client(openai_fake).chat.completions.create(
        model=MODEL, messages=USER, max_completion_tokens=2
    )
    assert completion.choices[0].message.content == "one two"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 2


def test_tool_call_non_stream(openai_fake: OpenAIFake) -> None:
    openai_fake.tool_call = ("get_weather", {"city": "Paris"})
    completion = client(openai_fake).chat.completions.create(
        model=MODEL, messages=USER, tools=TOOLS
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = choice.message.tool_calls or []
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}


def test_tool_call_streams_arguments_over_several_deltas(openai_fake: OpenAIFake) -> None:
    openai_fake.tool_call = ("get_weather", {"city": "Paris"})
    chunks = stream_chunks(openai_fake, tools=TOOLS)
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].id and calls[0].function and calls[0].function.name == "get_weather"
    fragments = [tc.function.arguments for tc in calls[1:] if tc.function]
    assert len(fragments) >= 2
    assert json.loads("".join(f or "" for f in fragments)) == {"city": "Paris"}
    assert all(tc.index == 0 for tc in calls)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_stream_helper_accumulates_the_tool_call(openai_fake: OpenAIFake) -> None:
    openai_fake.tool_call = ("get_weather", {"city": "Paris"})
    with client(openai_fake).chat.completions.stream(
        model=MODEL, messages=USER, tools=TOOLS
    ) as stream:
        final = stream.get_final_completion()
    [call] = final.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}


def test_tool_is_called_only_when_offered_and_not_after_its_result(
    openai_fake: OpenAIFake,
) -> None:
    openai_fake.tool_call = ("get_weather", {"city": "Paris"})
    api = client(openai_fake)
    plain = api.chat.completions.create(model=MODEL, messages=USER)
    assert plain.choices[0].message.tool_calls is None
    follow_up: list[Any] = [
        *USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    answer = api.chat.completions.create(model=MODEL, messages=follow_up, tools=TOOLS)
    assert answer.choices[0].message.content == f"Hello from {MODEL}."
    assert answer.choices[0].finish_reason == "stop"


def test_trailing_assistant_message_ignored_continued_or_rejected(
    openai_fake: OpenAIFake,
) -> None:
    messages: list[Any] = [*USER, {"role": "assistant", "content": "Hello from"}]
    api = client(openai_fake)
    full = api.chat.completions.create(model=MODEL, messages=messages)
    assert full.choices[0].message.content == f"Hello from {MODEL}."
    openai_fake.prefill = "continue"
    rest = api.chat.completions.create(model=MODEL, messages=messages)
    assert rest.choices[0].message.content == f" {MODEL}."
    openai_fake.prefill = "reject"
    with pytest.raises(openai.BadRequestError) as caught:
        api.chat.completions.create(model=MODEL, messages=messages)
    assert caught.value.param == "messages"
    assert openai_fake.last_request.behaviour == "prefill_rejected"


# ------------------------------------------------------------------ auth and validation


def test_wrong_key_is_rejected_with_redacted_key(openai_fake: OpenAIFake) -> None:
    api = openai.OpenAI(
        base_url=openai_fake.base_url,
        api_key="sk-wrong-key-123456",
        max_retries=0,
        http_client=_HTTP,
    )
    with pytest.raises(openai.AuthenticationError) as caught:
        api.chat.completions.create(model=MODEL, messages=USER)
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    assert "sk-************3456" in caught.value.message
    assert openai_fake.last_request.credential == "sk-wrong-key-123456"
    assert openai_fake.last_request.behaviour == "auth"


def test_missing_key_and_bad_bodies_get_openai_errors(openai_fake: OpenAIFake) -> None:
    url = f"{openai_fake.base_url}/chat/completions"
    missing = _HTTP.post(url, json={"model": MODEL, "messages": USER})
    assert missing.status_code == 401
    assert missing.json()["error"]["message"].startswith("You didn't provide an API key")
    auth = {"authorization": "Bearer sk-fake-openai"}
    not_json = _HTTP.post(url, content=b"{oops", headers=auth)
    assert not_json.status_code == 400
    assert "could not parse the JSON body" in not_json.json()["error"]["message"]
    no_messages = _HTTP.post(url, json={"model": MODEL}, headers=auth)
    assert no_messages.json()["error"]["param"] == "messages"
    assert no_messages.json()["error"]["code"] == "missing_required_parameter"
    unknown_path = _HTTP.post(f"{openai_fake.base_url}/nope", json={}, headers=auth)
    assert unknown_path.status_code == 404
    assert unknown_path.json()["error"]["message"] == "Invalid URL (POST /v1/nope)"


def test_unknown_model_and_models_listing(openai_fake: OpenAIFake) -> None:
    openai_fake.known_models = {"gpt-a", "gpt-b"}
    api = client(openai_fake)
    with pytest.raises(openai.NotFoundError) as caught:
        api.chat.completions.create(model="gpt-z", messages=USER)
    assert caught.value.code == "model_not_found"
    assert [m.id for m in api.models.list()] == ["gpt-a", "gpt-b"]


def test_context_window_rejects_long_prompts(openai_fake: OpenAIFake) -> None:
    openai_fake.context_windows = {"gpt-small": 4}
    api = client(openai_fake)
    with pytest.raises(openai.BadRequestError) as caught:
        api.chat.completions.create(model="gpt-small", messages=USER)  # 5 words
    assert caught.value.code == "context_length_exceeded"
    assert "maximum context length is 4 tokens" in caught.value.message
    assert "resulted in 5 tokens" in caught.value.message
    short: list[Any] = [{"role": "user", "content": "hi"}]
    assert api.chat.completions.create(model="gpt-small", messages=short).choices


# ------------------------------------------------------------------ HTTP faults


def test_rate_limit_with_and_without_retry_after(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(RateLimited(retry_after=7), RateLimited())
    api = client(openai_fake)
    with pytest.raises(openai.RateLimitError) as first:
        api.chat.completions.create(model=MODEL, messages=USER)
    assert first.value.response.headers["retry-after"] == "7"
    assert first.value.code == "rate_limit_exceeded"
    assert first.value.type == "requests"
    with pytest.raises(openai.RateLimitError) as second:
        api.chat.completions.create(model=MODEL, messages=USER)
    assert "retry-after" not in second.value.response.headers


def test_sdk_retry_honours_retry_after(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(RateLimited(retry_after=0.05))
    completion = client(openai_fake, max_retries=1).chat.completions.create(
        model=MODEL, messages=USER
    )
    assert completion.choices[0].message.content
    first, second = openai_fake.requests
    assert (first.behaviour, second.behaviour) == ("RateLimited", "default")
    assert second.arrived_at - first.arrived_at >= 0.05
    assert second.headers["x-stainless-retry-count"] == "1"


@pytest.mark.parametrize(
    ("fault", "error", "status", "code"),
    [
        (QuotaExhausted(), openai.RateLimitError, 429, "insufficient_quota"),
        (ServerError(), openai.InternalServerError, 500, None),
        (ServiceUnavailable(), openai.InternalServerError, 503, None),
        (Overloaded(), openai.InternalServerError, 503, None),
        (ContextLengthExceeded(limit=100), openai.BadRequestError, 400, "context_length_exceeded"),
        (ContentPolicy(), openai.BadRequestError, 400, "content_policy_violation"),
    ],
)
def test_http_faults_raise_the_sdk_error(
    openai_fake: OpenAIFake,
    fault: Any,
    error: type[openai.APIStatusError],
    status: int,
    code: str | None,
) -> None:
    openai_fake.enqueue(fault)
    with pytest.raises(error) as caught:
        client(openai_fake).chat.completions.create(model=MODEL, messages=USER)
    assert caught.value.status_code == status
    assert caught.value.code == code
    assert caught.value.request_id is not None and caught.value.request_id.startswith("req_")


def test_http_faults_apply_to_streaming_requests_too(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(RateLimited())
    with pytest.raises(openai.RateLimitError):
        stream_chunks(openai_fake)


def test_bad_gateway_is_an_html_page(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(BadGateway())
    with pytest.raises(openai.InternalServerError) as caught:
        client(openai_fake).chat.completions.create(model=MODEL, messages=USER)
    assert caught.value.status_code == 502
    assert caught.value.response.headers["content-type"].startswith("text/html")
    assert "cloudflare" in caught.value.response.text


def test_context_length_message_quotes_limit(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(ContextLengthExceeded(limit=3))
    with pytest.raises(openai.BadRequestError) as caught:
        client(openai_fake).chat.completions.create(model=MODEL, messages=USER)
    assert caught.value.param == "messages"
    assert "maximum context length is 3 tokens" in caught.value.message


def test_refusal_non_stream_and_stream(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(Refusal(), Refusal())
    completion = client(openai_fake).chat.completions.create(model=MODEL, messages=USER)
    message = completion.choices[0].message
    assert message.content is None
    assert message.refusal == REFUSAL_TEXT
    chunks = stream_chunks(openai_fake)
    refusal = "".join(c.choices[0].delta.refusal or "" for c in chunks if c.choices)
    assert refusal == REFUSAL_TEXT
    assert all(not (c.choices and c.choices[0].delta.content) for c in chunks)


# ------------------------------------------------------------------ transport faults


def test_connection_reset_surfaces_as_connection_error(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(ConnectionReset(), ConnectionReset())
    api = client(openai_fake)
    with pytest.raises(openai.APIConnectionError):
        api.chat.completions.create(model=MODEL, messages=USER)
    with pytest.raises(openai.APIConnectionError):
        api.chat.completions.create(model=MODEL, messages=USER, stream=True)
    assert [r.status for r in openai_fake.requests] == [None, None]


def test_accept_then_silent_times_out_and_records_disconnect(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(AcceptThenSilent())
    with pytest.raises(openai.APITimeoutError):
        client(openai_fake, timeout=0.2).chat.completions.create(model=MODEL, messages=USER)
    assert openai_fake.last_request.wait_disconnected()


def test_slow_first_token_before_headers(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(SlowFirstToken(0.2))
    started = time.monotonic()
    client(openai_fake).chat.completions.create(model=MODEL, messages=USER)
    assert time.monotonic() - started >= 0.2


def test_slow_first_token_after_headers(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(SlowFirstToken(0.5, stage="first_event"))
    started = time.monotonic()
    stream = client(openai_fake).chat.completions.create(model=MODEL, messages=USER, stream=True)
    headers_after = time.monotonic() - started
    next(iter(stream))
    first_event_after = time.monotonic() - started
    assert headers_after < 0.5 <= first_event_after


def test_slow_first_token_lets_a_client_timeout_fire(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(SlowFirstToken(2.0))
    with pytest.raises(openai.APITimeoutError):
        client(openai_fake, timeout=0.2).chat.completions.create(model=MODEL, messages=USER)
    assert openai_fake.last_request.wait_disconnected()


# ------------------------------------------------------------------ stream faults


def test_cut_after_n_events(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(CutAfter(2))
    received: list[ChatCompletionChunk] = []
    with pytest.raises(openai.APIConnectionError):
        received.extend(
            client(openai_fake).chat.completions.create(model=MODEL, messages=USER, stream=True)
        )
    assert len(received) == 2
    assert received[1].choices[0].delta.content == "Hello "


def test_cut_non_stream_body(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(CutAfter())
    with pytest.raises(openai.APIConnectionError):
        client(openai_fake).chat.completions.create(model=MODEL, messages=USER)


def test_stall_after_n_events(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(StallAfter(3))
    received: list[ChatCompletionChunk] = []
    api = client(openai_fake, timeout=0.3)
    with pytest.raises(openai.APITimeoutError):
        received.extend(api.chat.completions.create(model=MODEL, messages=USER, stream=True))
    assert len(received) == 3
    assert openai_fake.last_request.wait_disconnected()


def test_invalid_event_in_stream(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(InvalidEvent(after=2))
    received: list[ChatCompletionChunk] = []
    # The SDK lets the JSON error through unwrapped.
    with pytest.raises(json.JSONDecodeError):
        received.extend(
            client(openai_fake).chat.completions.create(model=MODEL, messages=USER, stream=True)
        )
    assert len(received) == 2


def test_missing_done_with_and_without_finish(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(MissingSentinel(), MissingSentinel(keep_finish=False))
    with_finish = stream_chunks(openai_fake, stream_options={"include_usage": True})
    assert with_finish[-2].choices[0].finish_reason == "stop"
    assert with_finish[-1].usage is not None
    without_finish = stream_chunks(openai_fake, stream_options={"include_usage": True})
    assert all(c.choices and c.choices[0].finish_reason is None for c in without_finish)
    assert all(c.usage is None for c in without_finish)
    openai_fake.enqueue(MissingSentinel())
    assert not raw_stream(openai_fake, {}).endswith(b"data: [DONE]\n\n")


def test_error_event_inside_stream(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(StreamErrorEvent(after=2, kind="server_error"))
    received: list[ChatCompletionChunk] = []
    with pytest.raises(openai.APIError) as caught:
        received.extend(
            client(openai_fake).chat.completions.create(model=MODEL, messages=USER, stream=True)
        )
    assert len(received) == 2
    assert "The server had an error" in caught.value.message
    assert isinstance(caught.value.body, dict) and caught.value.body["type"] == "server_error"


def test_malformed_json_body(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(MalformedBody())
    # The SDK does not wrap a non-JSON 200 body either.
    with pytest.raises(json.JSONDecodeError):
        client(openai_fake).chat.completions.create(model=MODEL, messages=USER)
    assert openai_fake.last_request.status == 200


def test_a_body_of_the_wrong_shape_gets_openais_400(openai_fake: OpenAIFake) -> None:
    messages = [{"role": "assistant", "content": None, "tool_calls": True}]
    with pytest.raises(openai.BadRequestError) as caught:
        client(openai_fake).chat.completions.create(model=MODEL, messages=messages)  # type: ignore[arg-type]
    assert caught.value.status_code == 400
    assert "invalid request body" in caught.value.message
