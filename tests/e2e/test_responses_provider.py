"""A model served over OpenAI's Responses API (a provider of type `openai_responses`),
reached from every client protocol: what the vendor receives, what each client gets
back (whole and streamed, tool loops, output limits), and faults mid-answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anthropic
import openai
import pytest

from tests.e2e.conftest import CLIENT_KEY, Stack, StackFactory, add_responses_profile
from tests.e2e.test_tools import ANTHROPIC_TOOLS, OPENAI_TOOLS, RESULT, WEATHER
from tests.fakes import CutAfter, MissingSentinel, ServerError, StreamErrorEvent
from tests.fakes.raw_streams import sse_body

MODEL = "gpt-rs-test"
HELLO = f"Hello from {MODEL}."
QUESTION = "What is the weather like in Paris today"
SYSTEM = "You are terse."


@pytest.fixture
def make_rstack(make_stack: StackFactory) -> Callable[..., Stack]:
    """The e2e stack plus a profile `rs` whose model the OpenAI fake serves over the
    Responses API."""

    def make(*, rs_fallbacks: tuple[str, ...] = (), fallback: bool = False) -> Stack:
        def add_rs(document: dict[str, Any]) -> None:
            add_responses_profile(document, "rs", MODEL, rs_fallbacks)

        return make_stack(edit=add_rs, fallback=fallback)

    return make


@pytest.fixture
def rstack(make_rstack: Callable[..., Stack]) -> Stack:
    return make_rstack()


def upstream(stack: Stack) -> dict[str, Any]:
    request = stack.openai_fake.last_request
    assert request.path == "/v1/responses"
    assert request.credential == stack.openai_fake.api_key
    assert CLIENT_KEY.encode() not in request.raw_body
    body: dict[str, Any] = request.body
    return body


def test_chat_client_answer(rstack: Stack) -> None:
    fake = rstack.openai_fake
    fake.input_tokens, fake.output_tokens, fake.cached_tokens = 40, 7, 10
    raw = rstack.openai().chat.completions.with_raw_response.create(
        model="rs",
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
        max_tokens=50,
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == HELLO
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (40, 7)
    assert raw.headers["x-switchpoint-provider"] == "openai_responses"
    sent = upstream(rstack)
    assert sent["model"] == MODEL and sent["store"] is False
    assert sent["instructions"] == SYSTEM
    assert sent["input"] == [
        {"role": "user", "content": [{"type": "input_text", "text": QUESTION}]}
    ]
    assert sent["max_output_tokens"] == 50
    [call] = rstack.recorder.calls
    assert call.usage is not None and call.usage.cached_input_tokens == 10


def test_chat_client_stream(rstack: Stack) -> None:
    rstack.openai_fake.stream_chunks = 4
    chunks = list(
        rstack.openai().chat.completions.create(
            model="rs",
            messages=[{"role": "user", "content": QUESTION}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    texts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(texts) >= 2 and "".join(texts) == HELLO
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert upstream(rstack)["stream"] is True


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_anthropic_client_tool_loop(rstack: Stack, streamed: bool) -> None:
    fake = rstack.openai_fake
    fake.tool_call, fake.tool_preamble = ("get_weather", WEATHER), "Let me check."
    client = rstack.anthropic()
    question: list[Any] = [{"role": "user", "content": QUESTION}]
    params: dict[str, Any] = {"model": "rs", "max_tokens": 200, "tools": ANTHROPIC_TOOLS}
    if streamed:
        with client.messages.stream(messages=question, **params) as stream:
            first = stream.get_final_message()
    else:
        first = client.messages.create(messages=question, **params)
    assert first.stop_reason == "tool_use"
    text, use = first.content
    assert text.type == "text" and text.text == "Let me check."
    assert use.type == "tool_use" and use.name == "get_weather" and use.input == WEATHER
    fake.tool_call = None
    result = {"type": "tool_result", "tool_use_id": use.id, "content": RESULT}
    second = client.messages.create(
        messages=[
            *question,
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [result]},
        ],
        **params,
    )
    assert second.content[0].type == "text" and second.content[0].text == HELLO
    items = upstream(rstack)["input"]
    call = next(i for i in items if i.get("type") == "function_call")
    assert call["call_id"] == use.id and json.loads(call["arguments"]) == WEATHER
    output = next(i for i in items if i.get("type") == "function_call_output")
    assert output == {"type": "function_call_output", "call_id": use.id, "output": RESULT}
    assert upstream(rstack)["tools"][0]["name"] == "get_weather"


def test_responses_client_is_forwarded_as_sent(rstack: Stack) -> None:
    """Same API both sides: the body as the client sent it (its replayed reasoning
    included), the answer as the vendor gave it."""
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "e"}
    items: list[Any] = [{"role": "user", "content": QUESTION}, reasoning]
    response = rstack.openai().responses.create(
        model="rs", input=items, reasoning={"effort": "low"}, store=True
    )
    assert response.output_text == HELLO
    assert not response.id.startswith("resp_sp-"), "the vendor's own response object"
    sent = upstream(rstack)
    assert sent["input"] == items and sent["reasoning"] == {"effort": "low"}
    assert sent["model"] == MODEL and sent["store"] is False
    with rstack.openai().responses.stream(model="rs", input=QUESTION) as stream:
        final = stream.get_final_response()
    assert final.output_text == HELLO


def test_chat_client_tools_and_length(rstack: Stack) -> None:
    fake = rstack.openai_fake
    fake.tool_call = ("get_weather", WEATHER)
    completion = rstack.openai().chat.completions.create(
        model="rs", messages=[{"role": "user", "content": QUESTION}], tools=OPENAI_TOOLS
    )
    [call] = completion.choices[0].message.tool_calls or []
    assert completion.choices[0].finish_reason == "tool_calls"
    assert json.loads(call.function.arguments) == WEATHER
    fake.tool_call, fake.reply_text = None, "a b c d e f g h"
    cut = rstack.openai().chat.completions.create(
        model="rs", messages=[{"role": "user", "content": QUESTION}], max_tokens=3
    )
    assert cut.choices[0].finish_reason == "length"
    assert cut.choices[0].message.content == "a b c"


def test_stop_sequences_are_refused_not_dropped(make_rstack: Callable[..., Stack]) -> None:
    stack = make_rstack()
    with pytest.raises(openai.BadRequestError) as caught:
        stack.openai().chat.completions.create(
            model="rs", messages=[{"role": "user", "content": QUESTION}], stop=["\n"]
        )
    assert "no stop sequences" in caught.value.message
    assert stack.openai_fake.requests == []
    # With a fallback, the next model of the chain serves it.
    stack = make_rstack(rs_fallbacks=("oa",), fallback=True)
    raw = stack.openai().chat.completions.with_raw_response.create(
        model="rs", messages=[{"role": "user", "content": QUESTION}], stop=["\n"]
    )
    assert raw.headers["x-switchpoint-model"] == "gpt-test"
    assert stack.openai_fake.last_request.path == "/v1/chat/completions"


def test_cut_and_failed_streams_are_errors(rstack: Stack) -> None:
    fake = rstack.openai_fake
    fake.reply_text, fake.stream_chunks = "alpha beta gamma delta epsilon", 5
    fake.enqueue(CutAfter(events=5))
    with pytest.raises(openai.APIError) as caught:
        list(
            rstack.openai().chat.completions.create(
                model="rs", messages=[{"role": "user", "content": QUESTION}], stream=True
            )
        )
    assert "stream was cut mid-answer" in str(caught.value)
    fake.enqueue(StreamErrorEvent(after=5, kind="server_error"))
    with pytest.raises(anthropic.APIStatusError) as an_caught:
        anthropic_stream(rstack)
    assert isinstance(an_caught.value.body, dict)
    assert an_caught.value.body["error"]["type"] == "api_error"
    assert rstack.recorder.calls[-1].status == "upstream_error"


def anthropic_stream(stack: Stack) -> anthropic.types.Message:
    client = stack.anthropic()
    question: list[Any] = [{"role": "user", "content": QUESTION}]
    with client.messages.stream(model="rs", max_tokens=100, messages=question) as stream:
        return stream.get_final_message()


def test_stream_without_its_terminal_event_is_an_error(rstack: Stack) -> None:
    rstack.openai_fake.enqueue(MissingSentinel(keep_finish=False))
    with pytest.raises(openai.APIError) as caught:
        list(
            rstack.openai().chat.completions.create(
                model="rs", messages=[{"role": "user", "content": QUESTION}], stream=True
            )
        )
    assert "ended before the answer was complete" in str(caught.value)


def test_failure_before_content_fails_over(make_rstack: Callable[..., Stack]) -> None:
    stack = make_rstack(rs_fallbacks=("an",), fallback=True)
    stack.openai_fake.enqueue(ServerError())
    with stack.openai().responses.with_streaming_response.create(
        model="rs", input=QUESTION, stream=True
    ) as raw:
        assert raw.headers["x-switchpoint-fallback"] == "true"
        assert raw.headers["x-switchpoint-provider"] == "anthropic"
        events = list(raw.parse())
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "Hello from claude-test."
    [attempt, served] = stack.recorder.attempts
    assert (attempt.outcome, served.outcome) == ("server_error", "ok")


def test_an_unknown_model_fails_over(make_rstack: Callable[..., Stack]) -> None:
    """The Responses API answers an unknown model with a 400 (`model_not_found`), where
    Chat Completions answers 404: either way, the chain's next model serves the call."""
    stack = make_rstack(rs_fallbacks=("an",), fallback=True)
    stack.openai_fake.known_models = {"gpt-test"}
    raw = stack.openai().chat.completions.with_raw_response.create(
        model="rs", messages=[{"role": "user", "content": QUESTION}]
    )
    assert raw.headers["x-switchpoint-fallback-reasons"] == "not_found"
    assert raw.parse().choices[0].message.content == "Hello from claude-test."
    assert stack.openai_fake.last_request.path == "/v1/responses"


def test_a_chat_client_s_reasoning_effort_and_verbosity_carry_over(rstack: Stack) -> None:
    rstack.openai().chat.completions.create(
        model="rs",
        messages=[{"role": "user", "content": QUESTION}],
        reasoning_effort="low",
        verbosity="high",
        response_format={"type": "json_object"},
    )
    sent = upstream(rstack)
    assert sent["reasoning"] == {"effort": "low"}
    assert sent["text"] == {"format": {"type": "json_object"}, "verbosity": "high"}


def reasoning_then_text_stream() -> bytes:
    """A Responses stream as OpenAI sends it for a reasoning model asked for its
    encrypted reasoning: a reasoning item, then a message."""
    reasoning = {
        "id": "rs_1",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "Thinking about Paris."}],
        "encrypted_content": "gAAAA-opaque",
    }
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "Sunny.", "annotations": []}],
    }
    base = {"id": "resp_1", "object": "response", "model": MODEL, "output": []}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {**base, "status": "in_progress"}},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**reasoning, "summary": [], "encrypted_content": None},
        },
        {
            "type": "response.reasoning_summary_text.delta",
            "item_id": "rs_1",
            "output_index": 0,
            "summary_index": 0,
            "delta": "Thinking about Paris.",
        },
        {"type": "response.output_item.done", "output_index": 0, "item": reasoning},
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {**message, "status": "in_progress", "content": []},
        },
        {
            "type": "response.output_text.delta",
            "item_id": "msg_1",
            "output_index": 1,
            "content_index": 0,
            "delta": "Sunny.",
        },
        {"type": "response.output_item.done", "output_index": 1, "item": message},
        {
            "type": "response.completed",
            "response": {
                **base,
                "status": "completed",
                "output": [reasoning, message],
                "usage": {
                    "input_tokens": 20,
                    "output_tokens": 30,
                    "output_tokens_details": {"reasoning_tokens": 24},
                    "input_tokens_details": {"cached_tokens": 0},
                    "total_tokens": 50,
                },
            },
        },
    ]
    return sse_body([{**e, "sequence_number": i} for i, e in enumerate(events)], named=True)


def test_a_responses_client_streamed_gets_the_model_s_reasoning_items(rstack: Stack) -> None:
    # Stateless (nothing stored at OpenAI), a client keeps the model's reasoning by
    # sending its encrypted reasoning items back: a stream must not lose them.
    from tests.fakes import RawResponse

    rstack.openai_fake.enqueue(
        RawResponse(status=200, body=reasoning_then_text_stream(), content_type="text/event-stream")
    )
    with rstack.openai().responses.stream(
        model="rs", input=QUESTION, include=["reasoning.encrypted_content"]
    ) as events:
        final = events.get_final_response()
    assert [item.type for item in final.output] == ["reasoning", "message"]
    reasoning = final.output[0]
    assert reasoning.type == "reasoning"
    assert reasoning.encrypted_content == "gAAAA-opaque"
    assert reasoning.summary[0].text == "Thinking about Paris."
    assert final.output_text == "Sunny."
    assert final.usage is not None
    assert final.usage.output_tokens_details.reasoning_tokens == 24
    # Clients of other protocols get the answer without it.
    rstack.openai_fake.enqueue(
        RawResponse(status=200, body=reasoning_then_text_stream(), content_type="text/event-stream")
    )
    chunks = list(
        rstack.openai().chat.completions.create(
            model="rs", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Sunny."
