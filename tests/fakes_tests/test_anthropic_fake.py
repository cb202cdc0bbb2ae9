"""The Anthropic fake, driven by the official ``anthropic`` SDK (and raw HTTP
where the wire bytes themselves are the point)."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.types import MessageParam, ToolParam

from tests.fakes import (
    AcceptThenSilent,
    AnthropicFake,
    BadGateway,
    ConnectionReset,
    ContentPolicy,
    ContextLengthExceeded,
    CutAfter,
    InvalidEvent,
    MalformedBody,
    MissingSentinel,
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

MODEL = "claude-test"
USER: list[MessageParam] = [{"role": "user", "content": "What is the weather like"}]
TOOLS: list[ToolParam] = [
    {
        "name": "get_weather",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]
HEADERS = {"x-api-key": "sk-ant-fake", "anthropic-version": "2023-06-01"}
_HTTP = httpx2.Client()


def client(fake: AnthropicFake, **kwargs: Any) -> anthropic.Anthropic:
    kwargs.setdefault("max_retries", 0)
    # The shared HTTP client spares each test building a TLS context.
    return anthropic.Anthropic(
        base_url=fake.base_url, api_key="sk-ant-fake", http_client=_HTTP, **kwargs
    )


def create(fake: AnthropicFake, **kwargs: Any) -> anthropic.types.Message:
    params: dict[str, Any] = {"model": MODEL, "max_tokens": 100, "messages": USER, **kwargs}
    message: anthropic.types.Message = client(fake).messages.create(**params)
    return message


def raw_events(fake: AnthropicFake, body: dict[str, Any] | None = None) -> list[tuple[str, Any]]:
    payload = {"model": MODEL, "max_tokens": 100, "messages": USER, "stream": True, **(body or {})}
    response = _HTTP.post(f"{fake.base_url}/v1/messages", json=payload, headers=HEADERS)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = []
    for block in response.text.split("\n\n"):
        if block:
            name_line, data_line = block.split("\n")
            events.append((name_line.removeprefix("event: "), json.loads(data_line[6:])))
    return events


# ------------------------------------------------------------------ answers


def test_non_stream_message(anthropic_fake: AnthropicFake) -> None:
    message = create(anthropic_fake, system="Be brief.")
    assert message.type == "message" and message.role == "assistant"
    assert message.model == MODEL
    assert message.id.startswith("msg_")
    [block] = message.content
    assert block.type == "text" and block.text == f"Hello from {MODEL}."
    assert message.stop_reason == "end_turn"
    # 5 user words + 2 system words; 3 reply words.
    assert (message.usage.input_tokens, message.usage.output_tokens) == (7, 3)


def test_sdk_sends_its_key_as_bearer_and_raw_x_api_key_works(anthropic_fake: AnthropicFake) -> None:
    create(anthropic_fake)
    sdk = anthropic_fake.last_request
    assert sdk.auth_header == "Bearer sk-ant-fake"
    assert sdk.credential == "sk-ant-fake"
    assert sdk.headers["anthropic-version"]
    body = {"model": MODEL, "max_tokens": 10, "messages": USER}
    response = _HTTP.post(f"{anthropic_fake.base_url}/v1/messages", json=body, headers=HEADERS)
    assert response.status_code == 200
    assert anthropic_fake.last_request.auth_header == "sk-ant-fake"
    assert response.headers["request-id"].startswith("req_")


def test_cache_usage_maps_to_anthropic_fields(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.input_tokens = 1000
    anthropic_fake.cached_tokens = 600
    anthropic_fake.cache_creation_tokens = 100
    anthropic_fake.output_tokens = 9
    usage = create(anthropic_fake).usage
    # Anthropic's input_tokens excludes cache reads and writes.
    assert usage.input_tokens == 300
    assert usage.cache_read_input_tokens == 600
    assert usage.cache_creation_input_tokens == 100
    assert usage.output_tokens == 9


def test_stream_event_sequence_on_the_wire(anthropic_fake: AnthropicFake) -> None:
    events = raw_events(anthropic_fake)
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(data["type"] == name for name, data in events)
    start = events[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None
    assert start["usage"]["input_tokens"] == 5
    delta = events[-2][1]
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"]["output_tokens"] == 3
    text = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
    assert text == f"Hello from {MODEL}."


def test_stream_helpers_and_final_message(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.cached_tokens = 2
    with client(anthropic_fake).messages.stream(
        model=MODEL, max_tokens=100, messages=USER
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) == 3
    assert "".join(pieces) == f"Hello from {MODEL}."
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 3
    assert final.usage.input_tokens == 3
    assert final.usage.cache_read_input_tokens == 2


async def test_async_stream_helpers(anthropic_fake: AnthropicFake) -> None:
    api = anthropic.AsyncAnthropic(
        base_url=anthropic_fake.base_url, api_key="sk-ant-fake", max_retries=0
    )
    async with api:
        message = await api.messages.create(model=MODEL, max_tokens=100, messages=USER)
        async with api.messages.stream(model=MODEL, max_tokens=100, messages=USER) as stream:
            text = "".join([piece async for piece in stream.text_stream])
            final = await stream.get_final_message()
    assert message.content[0].type == "text"
    assert message.content[0].text == text == f"Hello from {MODEL}."
    assert final.stop_reason == "end_turn"


def test_max_tokens_stops_with_max_tokens(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.reply_text = "one two three"
    message = create(anthropic_fake, max_tokens=1)
    assert message.stop_reason == "max_tokens"
    assert message.content[0].type == "text" and message.content[0].text == "one"


def test_tool_use_non_stream_with_preamble(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.tool_call = ("get_weather", {"city": "Paris"})
    anthropic_fake.tool_preamble = "Let me check."
    message = create(anthropic_fake, tools=TOOLS)
    text, tool = message.content
    assert text.type == "text" and text.text == "Let me check."
    assert tool.type == "tool_use" and tool.name == "get_weather"
    assert tool.input == {"city": "Paris"} and tool.id.startswith("toolu_")
    assert message.stop_reason == "tool_use"


def test_tool_use_streams_input_json_deltas(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.tool_call = ("get_weather", {"city": "Paris"})
    events = raw_events(anthropic_fake, {"tools": TOOLS})
    start = next(d for n, d in events if n == "content_block_start")
    assert start["content_block"]["type"] == "tool_use" and start["content_block"]["input"] == {}
    fragments = [
        d["delta"]["partial_json"]
        for n, d in events
        if n == "content_block_delta" and d["delta"]["type"] == "input_json_delta"
    ]
    assert fragments[0] == "" and len([f for f in fragments if f]) >= 2
    assert json.loads("".join(fragments)) == {"city": "Paris"}
    with client(anthropic_fake).messages.stream(
        model=MODEL, max_tokens=100, messages=USER, tools=TOOLS
    ) as stream:
        final = stream.get_final_message()
    [tool] = final.content
    assert tool.type == "tool_use" and tool.input == {"city": "Paris"}
    assert final.stop_reason == "tool_use"


def test_tool_result_gets_a_text_answer(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.tool_call = ("get_weather", {"city": "Paris"})
    messages: list[MessageParam] = [
        *USER,
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                }
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}],
        },
    ]
    message = create(anthropic_fake, messages=messages, tools=TOOLS)
    assert message.stop_reason == "end_turn"
    assert [b.type for b in message.content] == ["text"]


def test_prefill_is_continued_or_rejected(anthropic_fake: AnthropicFake) -> None:
    messages: list[MessageParam] = [*USER, {"role": "assistant", "content": "Hello from"}]
    message = create(anthropic_fake, messages=messages)
    assert message.content[0].type == "text" and message.content[0].text == f" {MODEL}."
    anthropic_fake.prefill = "reject"
    with pytest.raises(anthropic.BadRequestError) as caught:
        create(anthropic_fake, messages=messages)
    assert "does not support assistant message prefill" in str(caught.value.api_message)
    assert caught.value.type == "invalid_request_error"


def test_prefill_with_trailing_whitespace_is_invalid(anthropic_fake: AnthropicFake) -> None:
    messages: list[MessageParam] = [*USER, {"role": "assistant", "content": "Hello "}]
    with pytest.raises(anthropic.BadRequestError) as caught:
        create(anthropic_fake, messages=messages)
    assert "trailing whitespace" in str(caught.value.api_message)


def test_count_tokens_endpoint(anthropic_fake: AnthropicFake) -> None:
    counted = client(anthropic_fake).messages.count_tokens(
        model=MODEL, messages=USER, system="Be brief."
    )
    assert counted.input_tokens == 7


# ------------------------------------------------------------------ auth and validation


def test_wrong_and_missing_key(anthropic_fake: AnthropicFake) -> None:
    api = anthropic.Anthropic(
        base_url=anthropic_fake.base_url, api_key="sk-ant-other", max_retries=0, http_client=_HTTP
    )
    with pytest.raises(anthropic.AuthenticationError) as caught:
        api.messages.create(model=MODEL, max_tokens=10, messages=USER)
    assert caught.value.type == "authentication_error"
    body = {"model": MODEL, "max_tokens": 10, "messages": USER}
    missing = _HTTP.post(
        f"{anthropic_fake.base_url}/v1/messages",
        json=body,
        headers={"anthropic-version": "2023-06-01"},
    )
    assert missing.status_code == 401
    assert missing.json()["error"]["message"] == "x-api-key header is required"


def test_request_validation_errors(anthropic_fake: AnthropicFake) -> None:
    url = f"{anthropic_fake.base_url}/v1/messages"
    no_version = _HTTP.post(url, json={}, headers={"x-api-key": "sk-ant-fake"})
    assert no_version.status_code == 400
    assert no_version.json()["error"]["message"] == "anthropic-version: header is required"
    no_max = _HTTP.post(url, json={"model": MODEL, "messages": USER}, headers=HEADERS)
    assert no_max.status_code == 400
    assert no_max.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
        "request_id": no_max.json()["request_id"],
    }


def test_unknown_model_is_404(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.known_models = {"claude-a"}
    with pytest.raises(anthropic.NotFoundError) as caught:
        create(anthropic_fake)
    assert caught.value.type == "not_found_error"


# ------------------------------------------------------------------ HTTP faults


def test_overloaded_is_529(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.enqueue(Overloaded())
    with pytest.raises(anthropic.InternalServerError) as caught:
        create(anthropic_fake)
    assert caught.value.status_code == 529
    assert isinstance(caught.value, anthropic.OverloadedError)
    assert caught.value.type == "overloaded_error"


def test_sdk_retries_an_overload(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.enqueue(RateLimited(retry_after=0.01))
    message = client(anthropic_fake, max_retries=1).messages.create(
        model=MODEL, max_tokens=10, messages=USER
    )
    assert message.stop_reason == "end_turn"
    assert [r.behaviour for r in anthropic_fake.requests] == ["RateLimited", "default"]


@pytest.mark.parametrize(
    ("fault", "error", "status", "kind", "text"),
    [
        (
            RateLimited(retry_after=3),
            anthropic.RateLimitError,
            429,
            "rate_limit_error",
            "rate limit",
        ),
        (ServerError(), anthropic.InternalServerError, 500, "api_error", "Internal server error"),
        (ServiceUnavailable(), anthropic.InternalServerError, 503, "api_error", "Unavailable"),
        (QuotaExhausted(), anthropic.BadRequestError, 400, "invalid_request_error", "credit"),
        (
            ContentPolicy(),
            anthropic.BadRequestError,
            400,
            "invalid_request_error",
            "content filtering",
        ),
        (
            ContextLengthExceeded(limit=4),
            anthropic.BadRequestError,
            400,
            "invalid_request_error",
            "prompt is too long: 5 tokens > 4 maximum",
        ),
    ],
)
def test_http_faults_raise_the_sdk_error(
    anthropic_fake: AnthropicFake,
    fault: Any,
    error: type[anthropic.APIStatusError],
    status: int,
    kind: str,
    text: str,
) -> None:
    anthropic_fake.enqueue(fault)
    with pytest.raises(error) as caught:
        create(anthropic_fake)
    assert caught.value.status_code == status
    assert caught.value.type == kind
    assert text in str(caught.value.api_message)
    assert caught.value.request_id is not None


def test_rate_limit_headers(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.enqueue(RateLimited(retry_after=3), RateLimited())
    for expected in ("3", None):
        with pytest.raises(anthropic.RateLimitError) as caught:
            create(anthropic_fake)
        assert caught.value.response.headers.get("retry-after") == expected
        assert caught.value.response.headers["anthropic-ratelimit-requests-remaining"] == "0"


def test_bad_gateway_html_on_a_stream_request(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.enqueue(BadGateway())
    with (
        pytest.raises(anthropic.InternalServerError) as caught,
        client(anthropic_fake).messages.stream(model=MODEL, max_tokens=10, messages=USER) as stream,
    ):
        stream.until_done()
    assert caught.value.status_code == 502
    assert "502 Bad Gateway" in caught.value.response.text


def test_refusal_stop_reason(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.enqueue(Refusal(), Refusal())
    message = create(anthropic_fake)
    assert message.stop_reason == "refusal" and message.content == []
    assert message.stop_details is not None and message.stop_details.type == "refusal"
    with client(anthropic_fake).messages.stream(model=MODEL, max_tokens=10, messages=USER) as s:
        final = s.get_final_message()
    assert final.stop_reason == "refusal"


# ------------------------------------------------------------------ transport faults


def test_connection_reset(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.enqueue(ConnectionReset())
    with pytest.raises(anthropic.APIConnectionError):
        create(anthropic_fake)


def test_silence_and_slow_first_token_time_out(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.enqueue(AcceptThenSilent(), SlowFirstToken(2.0, stage="first_event"))
    api = client(anthropic_fake, timeout=0.4)
    with pytest.raises(anthropic.APITimeoutError):
        api.messages.create(model=MODEL, max_tokens=10, messages=USER)
    assert anthropic_fake.requests[0].wait_disconnected()
    with (
        pytest.raises(httpx2.ReadTimeout),
        api.messages.stream(model=MODEL, max_tokens=10, messages=USER) as stream,
    ):
        # Headers arrived; the first event never does within the timeout.
        stream.until_done()
    assert anthropic_fake.requests[1].status == 200
    assert anthropic_fake.requests[1].wait_disconnected()


# ------------------------------------------------------------------ stream faults


def test_cut_mid_stream(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.enqueue(CutAfter(4))
    seen: list[str] = []
    # anthropic-sdk lets the transport error through unwrapped mid-stream.
    with (
        pytest.raises(httpx2.RemoteProtocolError),
        client(anthropic_fake).messages.stream(model=MODEL, max_tokens=10, messages=USER) as stream,
    ):
        seen.extend(event.type for event in stream)
    assert "content_block_start" in seen and "message_stop" not in seen


def test_stall_mid_stream(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.enqueue(StallAfter(3))
    with (
        pytest.raises(httpx2.ReadTimeout),
        client(anthropic_fake, timeout=0.3).messages.stream(
            model=MODEL, max_tokens=10, messages=USER
        ) as stream,
    ):
        stream.until_done()
    assert anthropic_fake.last_request.wait_disconnected()


def test_invalid_event(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.enqueue(InvalidEvent(after=3))
    with (
        pytest.raises(json.JSONDecodeError),
        client(anthropic_fake).messages.stream(model=MODEL, max_tokens=10, messages=USER) as stream,
    ):
        stream.until_done()


def test_error_event_mid_stream(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.enqueue(StreamErrorEvent(after=4))
    texts: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client(anthropic_fake).messages.stream(model=MODEL, max_tokens=10, messages=USER) as stream,
    ):
        texts.extend(stream.text_stream)
    reply = f"Hello from {MODEL}."
    assert texts == [reply[: len(reply) // 3]]
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["type"] == "overloaded_error"
    # The HTTP status was 200; only the event says what went wrong.
    assert caught.value.status_code == 200


def test_missing_message_stop_with_and_without_stop_reason(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.enqueue(MissingSentinel())
    names = [name for name, _ in raw_events(anthropic_fake)]
    assert names[-1] == "message_delta"
    anthropic_fake.enqueue(MissingSentinel(keep_finish=False))
    with client(anthropic_fake).messages.stream(model=MODEL, max_tokens=10, messages=USER) as s:
        final = s.get_final_message()
    # The SDK raises nothing: the only sign of truncation is the missing stop reason.
    assert final.stop_reason is None
    assert final.content[0].type == "text" and final.content[0].text == f"Hello from {MODEL}."


def test_malformed_body(anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.enqueue(MalformedBody())
    with pytest.raises(json.JSONDecodeError):
        create(anthropic_fake)
