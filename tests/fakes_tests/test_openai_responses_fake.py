"""The OpenAI fake's Responses API (``POST /v1/responses``), driven by the official
``openai`` SDK (and raw HTTP where the wire bytes themselves are the point)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import httpx2
import openai
import pytest
from openai.lib.streaming.responses import ResponseStreamEvent as HelperEvent
from openai.types.responses import (
    FunctionToolParam,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseStreamEvent,
)

from tests.fakes import (
    REFUSAL_TEXT,
    BadGateway,
    ConnectionReset,
    ContentPolicy,
    ContextLengthExceeded,
    CutAfter,
    IgnoresStream,
    InvalidEvent,
    MalformedBody,
    MissingSentinel,
    OpenAIFake,
    Overloaded,
    QuotaExhausted,
    RateLimited,
    RawResponse,
    Refusal,
    ServerError,
    ServiceUnavailable,
    SlowFirstToken,
    StallAfter,
    StreamErrorEvent,
)

MODEL = "gpt-test"
PROMPT = "What is the weather like"  # 5 tokens
TOOLS: list[FunctionToolParam] = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    }
]
KEY = {"authorization": "Bearer sk-fake-openai"}

# Building an HTTP client (its TLS context) costs more than a whole fake
# exchange, so the sync SDK clients share one.
_HTTP = httpx2.Client()


def client(fake: OpenAIFake, **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(
        base_url=fake.base_url, api_key="sk-fake-openai", http_client=_HTTP, **kwargs
    )


def stream_events(fake: OpenAIFake, **kwargs: Any) -> list[ResponseStreamEvent]:
    """Every event of a streamed answer, through the SDK's raw event stream."""
    kwargs.setdefault("input", PROMPT)
    return list(client(fake).responses.create(model=MODEL, stream=True, **kwargs))


def raw_events(fake: OpenAIFake, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each SSE event, read off the bytes."""
    response = _HTTP.post(
        f"{fake.base_url}/responses",
        json={"model": MODEL, "input": PROMPT, "stream": True, **body},
        headers=KEY,
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.content.endswith(b"\n\n")
    events = []
    for block in response.content.split(b"\n\n")[:-1]:
        name_line, data_line = block.decode().split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: ")
        events.append((name_line[len("event: ") :], json.loads(data_line[len("data: ") :])))
    return events


def types_of(events: Sequence[ResponseStreamEvent | HelperEvent]) -> list[str]:
    return [e.type for e in events]


# ------------------------------------------------------------------ answers


def test_text_answer_and_usage(openai_fake: OpenAIFake) -> None:
    response = client(openai_fake).responses.create(model=MODEL, input=PROMPT)
    assert response.object == "response"
    assert response.id.startswith("resp_")
    assert response.model == MODEL
    assert response.status == "completed"
    assert response.error is None and response.incomplete_details is None
    assert response.output_text == f"Hello from {MODEL}."
    [message] = response.output
    assert isinstance(message, ResponseOutputMessage)
    assert message.id.startswith("msg_") and message.status == "completed"
    assert message.role == "assistant"
    assert [part.type for part in message.content] == ["output_text"]
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (5, 3, 8)
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0
    record = openai_fake.last_request
    assert record.path == "/v1/responses"
    assert (record.model, record.stream, record.behaviour) == (MODEL, False, "default")
    assert record.body == {"model": MODEL, "input": PROMPT}
    assert record.credential == "sk-fake-openai"


def test_configured_usage_maps_to_responses_fields(openai_fake: OpenAIFake) -> None:
    openai_fake.input_tokens = 1000
    openai_fake.cached_tokens = 800
    openai_fake.cache_creation_tokens = 100
    openai_fake.output_tokens = 7
    openai_fake.reasoning_tokens = 5
    openai_fake.reply_text = "Configured."
    openai_fake.resolved_models = {MODEL: "gpt-test-2026-01-01"}
    response = client(openai_fake).responses.create(model=MODEL, input=PROMPT)
    assert response.model == "gpt-test-2026-01-01"
    assert response.output_text == "Configured."
    usage = response.usage
    assert usage is not None
    assert usage.input_tokens == 1000
    assert usage.input_tokens_details.cached_tokens == 800
    assert usage.input_tokens_details.cache_write_tokens == 100
    # As in chat, reasoning tokens are part of the output tokens.
    assert usage.output_tokens == 12
    assert usage.output_tokens_details.reasoning_tokens == 5
    assert usage.total_tokens == 1012


def test_every_input_item_counts_and_settings_are_echoed(openai_fake: OpenAIFake) -> None:
    items: list[Any] = [
        {"role": "developer", "content": "Be brief"},  # 2
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Look at this"},  # 3
                {"type": "input_image", "image_url": "https://example.com/a.png"},
            ],
        },
        {"role": "assistant", "content": [{"type": "output_text", "text": "A cat"}]},  # 2
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"role": "user", "content": "And now"},  # 2
    ]
    response = client(openai_fake).responses.create(
        model=MODEL,
        input=items,
        instructions="You are terse",  # 3
        tools=TOOLS,
        tool_choice="none",
        temperature=0.2,
        store=False,
        max_output_tokens=50,
    )
    assert response.usage is not None and response.usage.input_tokens == 12
    assert response.instructions == "You are terse"
    assert response.tool_choice == "none"
    assert response.temperature == 0.2
    # The SDK's type has no ``store``, but the API reports it.
    assert response.to_dict()["store"] is False
    assert response.max_output_tokens == 50
    [tool] = response.tools
    assert tool.type == "function" and tool.name == "get_weather" and tool.strict is True


async def test_async_client_non_stream_and_stream(openai_fake: OpenAIFake) -> None:
    async with openai.AsyncOpenAI(
        base_url=openai_fake.base_url, api_key="sk-fake-openai", max_retries=0
    ) as api:
        response = await api.responses.create(model=MODEL, input=PROMPT)
        async with api.responses.stream(model=MODEL, input=PROMPT) as stream:
            final = await stream.get_final_response()
    assert response.output_text == final.output_text == f"Hello from {MODEL}."


def test_stream_helper_final_response_equals_the_deltas(openai_fake: OpenAIFake) -> None:
    openai_fake.cached_tokens = 2
    with client(openai_fake).responses.stream(model=MODEL, input=PROMPT) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert types_of(events) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 3,  # stream_chunks defaults to 3 pieces
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == final.output_text == f"Hello from {MODEL}."
    assert final.status == "completed"
    assert final.usage is not None and final.usage.input_tokens_details.cached_tokens == 2
    assert (final.usage.input_tokens, final.usage.output_tokens) == (5, 3)
    assert openai_fake.last_request.stream is True


def test_stream_wire_bytes(openai_fake: OpenAIFake) -> None:
    openai_fake.stream_chunks = 2
    events = raw_events(openai_fake, {"stream_options": {"include_obfuscation": False}})
    assert all(name == data["type"] for name, data in events)
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    assert all("obfuscation" not in data for _, data in events)
    created, in_progress = events[0][1], events[1][1]
    assert created["response"]["status"] == "in_progress"
    assert created["response"]["output"] == [] and created["response"]["usage"] is None
    assert in_progress["response"] == created["response"]
    added = next(data for name, data in events if name == "response.output_item.added")
    assert added["item"]["status"] == "in_progress" and added["item"]["content"] == []
    part = next(data for name, data in events if name == "response.content_part.added")
    assert part["part"] == {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    deltas = [data for name, data in events if name == "response.output_text.delta"]
    assert len(deltas) == 2
    assert all(d["item_id"] == added["item"]["id"] and d["logprobs"] == [] for d in deltas)
    name, completed = events[-1]
    assert name == "response.completed"
    assert completed["response"]["id"] == created["response"]["id"]
    assert completed["response"]["usage"]["total_tokens"] == 8
    padded = raw_events(openai_fake, {})
    paddings = [data.get("obfuscation") for name, data in padded if name.endswith(".delta")]
    assert paddings and all(paddings)


def test_stream_chunk_count_and_gap_are_configurable(openai_fake: OpenAIFake) -> None:
    openai_fake.stream_chunks = 5
    openai_fake.chunk_gap = 0.03
    started = time.monotonic()
    events = stream_events(openai_fake)
    elapsed = time.monotonic() - started
    assert types_of(events).count("response.output_text.delta") == 5
    assert elapsed >= 0.03 * (len(events) - 1)


def test_max_output_tokens_makes_the_response_incomplete(openai_fake: OpenAIFake) -> None:
    openai_fake.reply_text = "one two three four five"
    response = client(openai_fake).responses.create(model=MODEL, input=PROMPT, max_output_tokens=2)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output_text == "one two"
    [message] = response.output
    assert isinstance(message, ResponseOutputMessage) and message.status == "incomplete"
    assert response.usage is not None and response.usage.output_tokens == 2
    events = stream_events(openai_fake, max_output_tokens=2)
    assert events[-1].type == "response.incomplete"
    assert "response.completed" not in types_of(events)
    assert events[-1].response.incomplete_details is not None
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"
    assert events[-1].response.output_text == "one two"


# ------------------------------------------------------------------ tool calls


def test_tool_call_non_stream(openai_fake: OpenAIFake) -> None:
    openai_fake.tool_call = ("get_weather", {"city": "Paris"})
    response = client(openai_fake).responses.create(model=MODEL, input=PROMPT, tools=TOOLS)
    assert response.status == "completed"
    [call] = response.output
    assert isinstance(call, ResponseFunctionToolCall)
    assert call.id is not None and call.id.startswith("fc_")
    assert call.call_id.startswith("call_")
    assert call.name == "get_weather" and call.status == "completed"
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert response.output_text == ""
    assert response.usage is not None
    assert response.usage.output_tokens == 2  # 'get_weather {"city":"Paris"}'


def test_tool_preamble_comes_first_as_a_message(openai_fake: OpenAIFake) -> None:
    openai_fake.tool_call = ("get_weather", {"city": "Paris"})
    openai_fake.tool_preamble = "Let me check."
    response = client(openai_fake).responses.create(model=MODEL, input=PROMPT, tools=TOOLS)
    assert [item.type for item in response.output] == ["message", "function_call"]
    assert response.output_text == "Let me check."


def test_stream_helper_parses_the_tool_call(openai_fake: OpenAIFake) -> None:
    openai_fake.tool_call = ("get_weather", {"city": "Paris"})
    openai_fake.tool_preamble = "Checking."
    with client(openai_fake).responses.stream(model=MODEL, input=PROMPT, tools=TOOLS) as stream:
        events = list(stream)
        final = stream.get_final_response()
    message, call = final.output
    assert message.type == "message" and final.output_text == "Checking."
    assert call.type == "function_call"
    assert call.name == "get_weather"
    # The SDK parses the arguments of a strict tool it was given.
    assert call.parsed_arguments == {"city": "Paris"}
    fragments = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    assert len(fragments) >= 2 and json.loads("".join(fragments)) == {"city": "Paris"}
    added = [e for e in events if e.type == "response.output_item.added"]
    assert [e.output_index for e in added] == [0, 1]
    assert added[1].item.type == "function_call" and added[1].item.arguments == ""
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert done.output_index == 1 and json.loads(done.arguments) == {"city": "Paris"}


def test_tool_is_called_only_when_offered_and_not_after_its_result(
    openai_fake: OpenAIFake,
) -> None:
    openai_fake.tool_call = ("get_weather", {"city": "Paris"})
    api = client(openai_fake)
    plain = api.responses.create(model=MODEL, input=PROMPT)
    assert [item.type for item in plain.output] == ["message"]
    follow_up: list[Any] = [
        {"role": "user", "content": PROMPT},
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny and warm"},
    ]
    answer = api.responses.create(model=MODEL, input=follow_up, tools=TOOLS)
    assert answer.output_text == f"Hello from {MODEL}."
    assert [item.type for item in answer.output] == ["message"]
    # The prompt counts the call's arguments and its result, as chat does.
    assert answer.usage is not None and answer.usage.input_tokens == 5 + 1 + 3


def test_trailing_assistant_message_ignored_continued_or_rejected(
    openai_fake: OpenAIFake,
) -> None:
    items: list[Any] = [
        {"role": "user", "content": PROMPT},
        {"role": "assistant", "content": "Hello from"},
    ]
    api = client(openai_fake)
    assert api.responses.create(model=MODEL, input=items).output_text == f"Hello from {MODEL}."
    openai_fake.prefill = "continue"
    assert api.responses.create(model=MODEL, input=items).output_text == f" {MODEL}."
    openai_fake.prefill = "reject"
    with pytest.raises(openai.BadRequestError) as caught:
        api.responses.create(model=MODEL, input=items)
    assert caught.value.param == "input"
    assert openai_fake.last_request.behaviour == "prefill_rejected"


# ------------------------------------------------------------------ refusal


def test_refusal_non_stream_and_stream(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(Refusal(), Refusal())
    response = client(openai_fake).responses.create(model=MODEL, input=PROMPT)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "content_filter"
    [message] = response.output
    assert isinstance(message, ResponseOutputMessage) and message.status == "incomplete"
    [part] = message.content
    assert part.type == "refusal" and part.refusal == REFUSAL_TEXT
    assert response.output_text == ""
    events = stream_events(openai_fake)
    refusal = "".join(e.delta for e in events if e.type == "response.refusal.delta")
    assert refusal == REFUSAL_TEXT
    assert "response.output_text.delta" not in types_of(events)
    assert types_of(events)[-1] == "response.incomplete"


# ------------------------------------------------------------------ auth and validation


def test_wrong_key_is_rejected_as_for_chat(openai_fake: OpenAIFake) -> None:
    api = openai.OpenAI(
        base_url=openai_fake.base_url,
        api_key="sk-wrong-key-123456",
        max_retries=0,
        http_client=_HTTP,
    )
    with pytest.raises(openai.AuthenticationError) as caught:
        api.responses.create(model=MODEL, input=PROMPT)
    assert caught.value.code == "invalid_api_key"
    assert "sk-************3456" in caught.value.message
    assert openai_fake.last_request.behaviour == "auth"


def test_missing_key_and_bad_bodies_get_openai_errors(openai_fake: OpenAIFake) -> None:
    url = f"{openai_fake.base_url}/responses"
    missing_key = _HTTP.post(url, json={"model": MODEL, "input": PROMPT})
    assert missing_key.status_code == 401
    assert missing_key.json()["error"]["message"].startswith("You didn't provide an API key")
    not_json = _HTTP.post(url, content=b"{oops", headers=KEY)
    assert not_json.status_code == 400
    assert "could not parse the JSON body" in not_json.json()["error"]["message"]
    no_input = _HTTP.post(url, json={"model": MODEL}, headers=KEY)
    assert no_input.status_code == 400
    assert no_input.json()["error"] == {
        "message": "Missing required parameter: 'input'.",
        "type": "invalid_request_error",
        "param": "input",
        "code": "missing_required_parameter",
    }
    no_model = _HTTP.post(url, json={"input": PROMPT}, headers=KEY)
    assert no_model.json()["error"]["param"] == "model"
    wrong_type = _HTTP.post(url, json={"model": MODEL, "input": {"a": 1}}, headers=KEY)
    assert wrong_type.json()["error"]["code"] == "invalid_type"
    assert [r.behaviour for r in openai_fake.requests] == ["auth", *["invalid"] * 4]


def test_unknown_model_is_a_400_on_responses(openai_fake: OpenAIFake) -> None:
    openai_fake.known_models = {"gpt-a"}
    with pytest.raises(openai.BadRequestError) as caught:
        client(openai_fake).responses.create(model="gpt-z", input=PROMPT)
    assert caught.value.code == "model_not_found"
    assert caught.value.param == "model"
    assert caught.value.message.endswith("The requested model 'gpt-z' does not exist.")


def test_context_window_rejects_long_input(openai_fake: OpenAIFake) -> None:
    openai_fake.context_windows = {"gpt-small": 4}
    api = client(openai_fake)
    with pytest.raises(openai.BadRequestError) as caught:
        api.responses.create(model="gpt-small", input=PROMPT)  # 5 words
    assert caught.value.code == "context_length_exceeded"
    assert caught.value.param == "input"
    assert "exceeds the context window" in caught.value.message
    assert api.responses.create(model="gpt-small", input="hi").output_text


# ------------------------------------------------------------------ HTTP and transport faults


@pytest.mark.parametrize(
    ("fault", "error", "status", "code"),
    [
        (RateLimited(retry_after=7), openai.RateLimitError, 429, "rate_limit_exceeded"),
        (QuotaExhausted(), openai.RateLimitError, 429, "insufficient_quota"),
        (ServerError(), openai.InternalServerError, 500, None),
        (BadGateway(), openai.InternalServerError, 502, None),
        (ServiceUnavailable(), openai.InternalServerError, 503, None),
        (Overloaded(), openai.InternalServerError, 503, None),
        (ContextLengthExceeded(limit=3), openai.BadRequestError, 400, "context_length_exceeded"),
        (ContentPolicy(), openai.BadRequestError, 400, "content_policy_violation"),
        (RawResponse(418, b'{"error": {"message": "teapot"}}'), openai.APIStatusError, 418, None),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_http_faults_raise_the_sdk_error(
    openai_fake: OpenAIFake,
    fault: Any,
    error: type[openai.APIStatusError],
    status: int,
    code: str | None,
    stream: bool,
) -> None:
    openai_fake.enqueue(fault)
    with pytest.raises(error) as caught:
        client(openai_fake).responses.create(model=MODEL, input=PROMPT, stream=stream)
    assert caught.value.status_code == status
    assert caught.value.code == code
    assert openai_fake.last_request.behaviour == type(fault).__name__
    if isinstance(fault, RateLimited):
        assert caught.value.response.headers["retry-after"] == "7"


def test_connection_reset_and_slow_first_token(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(ConnectionReset(), SlowFirstToken(0.2))
    api = client(openai_fake)
    with pytest.raises(openai.APIConnectionError):
        api.responses.create(model=MODEL, input=PROMPT)
    started = time.monotonic()
    assert api.responses.create(model=MODEL, input=PROMPT).output_text
    assert time.monotonic() - started >= 0.2


# ------------------------------------------------------------------ stream faults


def test_cut_stream_fails_the_sdk_without_completion(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(CutAfter(4))
    received: list[ResponseStreamEvent] = []
    with (
        pytest.raises(openai.APIConnectionError),
        client(openai_fake).responses.stream(model=MODEL, input=PROMPT) as stream,
    ):
        received.extend(stream)
    assert len(received) == 4
    assert received[-1].type == "response.content_part.added"
    assert openai_fake.last_request.behaviour == "CutAfter"


def test_cut_is_clamped_so_the_terminal_event_is_always_lost(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(CutAfter(1000))
    received: list[ResponseStreamEvent] = []
    with pytest.raises(openai.APIConnectionError):
        received.extend(
            client(openai_fake).responses.create(model=MODEL, input=PROMPT, stream=True)
        )
    assert received[-1].type == "response.output_item.done"


def test_cut_non_stream_body(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(CutAfter())
    with pytest.raises(openai.APIConnectionError):
        client(openai_fake).responses.create(model=MODEL, input=PROMPT)


def test_stall_after_n_events(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(StallAfter(3))
    received: list[ResponseStreamEvent] = []
    api = client(openai_fake, timeout=0.3)
    with pytest.raises(openai.APITimeoutError):
        received.extend(api.responses.create(model=MODEL, input=PROMPT, stream=True))
    assert len(received) == 3
    assert openai_fake.last_request.wait_disconnected()


def test_invalid_event_in_stream(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(InvalidEvent(after=2))
    received: list[ResponseStreamEvent] = []
    # As for chat, the SDK lets the JSON error through unwrapped.
    with pytest.raises(json.JSONDecodeError):
        received.extend(
            client(openai_fake).responses.create(model=MODEL, input=PROMPT, stream=True)
        )
    assert types_of(received) == ["response.created", "response.in_progress"]


def test_error_event_inside_stream(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(StreamErrorEvent(after=3, kind="server_error"))
    received: list[ResponseStreamEvent] = []
    with (
        pytest.raises(openai.APIError) as caught,
        client(openai_fake).responses.stream(model=MODEL, input=PROMPT) as stream,
    ):
        received.extend(stream)
    assert len(received) == 3
    assert "The server had an error" in caught.value.message
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["type"] == caught.value.body["code"] == "server_error"


def test_error_event_wire_bytes(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(StreamErrorEvent(after=2))
    events = raw_events(openai_fake, {})
    assert [name for name, _ in events] == ["response.created", "response.in_progress", "error"]
    assert events[-1][1] == {
        "type": "error",
        "sequence_number": 2,
        "error": {
            "type": "service_unavailable_error",
            "code": "server_is_overloaded",
            "message": "The server is overloaded or not ready yet.",
            "param": None,
        },
    }


def test_missing_sentinel_keeps_or_drops_the_terminal_event(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(MissingSentinel(), MissingSentinel(keep_finish=False))
    # There is no sentinel to drop, so the stream is unchanged.
    unchanged = stream_events(openai_fake)
    assert unchanged[-1].type == "response.completed"
    without_terminal = stream_events(openai_fake)
    assert without_terminal[-1].type == "response.output_item.done"
    assert not {"response.completed", "response.incomplete"} & set(types_of(without_terminal))
    assert types_of(without_terminal) == types_of(unchanged)[:-1]
    openai_fake.enqueue(MissingSentinel(keep_finish=False))
    with (
        pytest.raises(RuntimeError, match=r"response\.completed"),
        client(openai_fake).responses.stream(model=MODEL, input=PROMPT) as stream,
    ):
        stream.get_final_response()


def test_ignores_stream_answers_with_one_response_object(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(IgnoresStream())
    response = _HTTP.post(
        f"{openai_fake.base_url}/responses",
        json={"model": MODEL, "input": PROMPT, "stream": True},
        headers=KEY,
    )
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["object"] == "response" and body["status"] == "completed"
    assert body["output"][0]["content"][0]["text"] == f"Hello from {MODEL}."


def test_malformed_json_body(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(MalformedBody())
    with pytest.raises(json.JSONDecodeError):
        client(openai_fake).responses.create(model=MODEL, input=PROMPT)
    assert openai_fake.last_request.status == 200


# ------------------------------------------------------------------ one fake, two APIs


def test_chat_completions_still_work_on_the_same_fake(openai_fake: OpenAIFake) -> None:
    openai_fake.enqueue(ServerError(), model="sick")
    api = client(openai_fake)
    response = api.responses.create(model=MODEL, input=PROMPT)
    completion = api.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": PROMPT}]
    )
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == response.output_text
    # Faults are shared too: the one queued for "sick" hits whichever API asks first.
    with pytest.raises(openai.InternalServerError):
        api.chat.completions.create(model="sick", messages=[{"role": "user", "content": "hi"}])
    assert api.responses.create(model="sick", input="hi").status == "completed"
    assert [r.path for r in openai_fake.requests] == [
        "/v1/responses",
        "/v1/chat/completions",
        "/v1/chat/completions",
        "/v1/responses",
    ]
    assert openai_fake.request_count(model=MODEL) == 2
