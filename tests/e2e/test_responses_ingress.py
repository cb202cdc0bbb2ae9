"""The OpenAI Responses ingress (`/v1/responses`) through the official SDK, against every
vendor: answers, streams and their event lifecycle, tool loops, output limits, JSON
output, faults mid-stream, and the requests it refuses (with a 400 naming the field)."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.e2e.conftest import CLIENT_KEY, HTTP, MODELS, PROFILES, Stack, StackFactory
from tests.e2e.test_tools import RESULT, SCHEMA, WEATHER, arm, assert_result_reached_vendor
from tests.e2e.test_translation import (
    QUESTION,
    SYSTEM,
    assert_explained,
    assert_upstream_auth,
    hello,
    system_as_sent,
)
from tests.fakes import CutAfter, ServerError, StreamErrorEvent

TOOLS: list[Any] = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather now",
        "parameters": SCHEMA,
        "strict": False,
    }
]


def events_of(stack: Stack, **params: Any) -> list[Any]:
    """Every event of a streamed response, checking the lifecycle OpenAI promises:
    sequence numbers 0, 1, 2, ... and `response.created` first."""
    events = list(stack.openai().responses.create(stream=True, **params))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].type == "response.created"
    assert events[1].type == "response.in_progress"
    return events


@pytest.mark.parametrize("profile", PROFILES)
def test_answer(stack: Stack, profile: str) -> None:
    fake = stack.fake(profile)
    fake.input_tokens, fake.output_tokens, fake.cached_tokens = 40, 7, 10
    raw = stack.openai().responses.with_raw_response.create(
        model=profile, instructions=SYSTEM, input=QUESTION, max_output_tokens=100
    )
    response = raw.parse()
    assert response.object == "response"
    assert response.status == "completed"
    assert response.model == MODELS[profile]
    assert response.output_text == hello(profile)
    [item] = response.output
    assert item.type == "message" and item.status == "completed" and item.role == "assistant"
    assert response.id == f"resp_{raw.headers['x-switchpoint-request-id']}"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (40, 7)
    assert response.usage.total_tokens == 47
    assert response.usage.input_tokens_details.cached_tokens == 10
    # The request's parameters, repeated as OpenAI repeats them; nothing is stored.
    assert response.instructions == SYSTEM and response.max_output_tokens == 100
    assert response.store is False
    assert_explained(raw.headers, profile)
    assert system_as_sent(stack, profile) == SYSTEM
    assert_upstream_auth(stack, profile)
    [call] = stack.recorder.calls
    assert call.protocol == "openai_responses" and call.status == "ok"
    assert call.usage is not None and call.usage.input_tokens == 40


@pytest.mark.parametrize("profile", PROFILES)
def test_stream(stack: Stack, profile: str) -> None:
    stack.fake(profile).stream_chunks = 4
    with stack.openai().responses.stream(model=profile, input=QUESTION) as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert len(deltas) >= 2, "the text arrived as it was generated, not in one piece"
    assert "".join(deltas) == hello(profile)
    assert final.status == "completed" and final.output_text == hello(profile)
    assert final.usage is not None and final.usage.output_tokens > 0
    events = events_of(stack, model=profile, input=QUESTION)
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[-2].item.content[0].text == hello(profile)
    assert stack.recorder.calls[-1].protocol == "openai_responses"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_tool_loop(stack: Stack, profile: str, streamed: bool) -> None:
    arm(stack, profile, preamble="Let me check.")
    client = stack.openai()
    first_input: list[Any] = [{"role": "user", "content": QUESTION}]
    if streamed:
        with client.responses.stream(model=profile, input=first_input, tools=TOOLS) as stream:
            arguments = "".join(
                e.delta for e in stream if e.type == "response.function_call_arguments.delta"
            )
            first = stream.get_final_response()
        assert json.loads(arguments) == WEATHER
    else:
        first = client.responses.create(model=profile, input=first_input, tools=TOOLS)
    assert first.status == "completed"
    message, call = first.output
    assert message.type == "message" and message.content[0].text == "Let me check."
    assert call.type == "function_call" and call.status == "completed"
    assert call.name == "get_weather" and json.loads(call.arguments) == WEATHER
    assert call.call_id and call.id != call.call_id
    # The SDK's own output items go back as input, as OpenAI's guide does.
    second_input = [
        *first_input,
        *first.output,
        {"type": "function_call_output", "call_id": call.call_id, "output": RESULT},
    ]
    stack.fake(profile).tool_call = None
    second = client.responses.create(model=profile, input=second_input, tools=TOOLS)
    assert second.output_text == hello(profile)
    assert_result_reached_vendor(stack, profile, call.call_id)


@pytest.mark.parametrize("profile", PROFILES)
def test_output_limit_is_incomplete(stack: Stack, profile: str) -> None:
    stack.fake(profile).reply_text = "a b c d e f g h"
    response = stack.openai().responses.create(model=profile, input=QUESTION, max_output_tokens=3)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output_text == "a b c"
    assert response.output[0].status == "incomplete"
    events = events_of(stack, model=profile, input=QUESTION, max_output_tokens=3)
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"


CUT_AFTER = {"an": 4, "ge": 2}


@pytest.mark.parametrize("profile", ["an", "ge"])
def test_cut_stream_fails_and_never_completes(stack: Stack, profile: str) -> None:
    fake = stack.fake(profile)
    fake.reply_text, fake.stream_chunks = "alpha beta gamma delta epsilon", 5
    fake.enqueue(CutAfter(events=CUT_AFTER[profile]))
    seen: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        # Kept up to the event that raised.
        seen.extend(
            e.type
            for e in stack.openai().responses.create(model=profile, input=QUESTION, stream=True)
        )
    assert "stream was cut mid-answer" in str(caught.value)
    assert "response.output_text.delta" in seen, "text was relayed before the cut"
    assert "response.completed" not in seen
    # A reader that does not stop at `error` still finds the terminal `response.failed`.
    fake.enqueue(CutAfter(events=CUT_AFTER[profile]))
    with HTTP.stream(
        "POST",
        f"{stack.base_url}/v1/responses",
        json={"model": profile, "input": QUESTION, "stream": True},
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
    ) as raw:
        lines = [line for line in raw.iter_lines() if line.startswith("data: ")]
    payloads = [json.loads(line[6:]) for line in lines]
    kinds = [p["type"] for p in payloads]
    assert kinds[-2:] == ["error", "response.failed"]
    assert "response.completed" not in kinds
    failed = payloads[-1]["response"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"
    assert failed["output"][0]["status"] == "incomplete"
    assert failed["output"][0]["content"][0]["text"], "the text sent so far is in the output"
    assert stack.recorder.calls[-1].status == "upstream_error"


def test_in_stream_rate_limit_is_reported_as_such(stack: Stack) -> None:
    stack.anthropic_fake.stream_chunks = 5
    stack.anthropic_fake.enqueue(StreamErrorEvent(after=CUT_AFTER["an"], kind="overloaded"))
    with pytest.raises(openai.APIError) as caught:
        list(stack.openai().responses.create(model="an", input=QUESTION, stream=True))
    assert "overloaded" in str(caught.value).lower()


def test_upstream_failure_before_the_answer(make_stack: StackFactory) -> None:
    """Without a fallback: an HTTP error in OpenAI's shape, streamed or not. With one:
    the fallback serves the stream, and the headers say so."""
    stack = make_stack()
    for stream in (False, True):
        stack.anthropic_fake.enqueue(ServerError())
        with pytest.raises(openai.APIStatusError) as caught:
            if stream:
                list(stack.openai().responses.create(model="an", input=QUESTION, stream=True))
            else:
                stack.openai().responses.create(model="an", input=QUESTION)
        assert caught.value.status_code == 502
        assert MODELS["an"] in caught.value.message
    stack = make_stack(fallback=True, an_fallbacks=["oa"])
    stack.anthropic_fake.enqueue(ServerError())
    with stack.openai().responses.with_streaming_response.create(
        model="an", input=QUESTION, stream=True
    ) as raw:
        assert raw.headers["x-switchpoint-fallback"] == "true"
        assert raw.headers["x-switchpoint-model"] == MODELS["oa"]
        events = list(raw.parse())
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == hello("oa")


def test_json_output(stack: Stack) -> None:
    fake_reply = json.dumps({"city": "Paris"})
    text = {"format": {"type": "json_schema", "name": "place", "schema": SCHEMA, "strict": True}}
    stack.openai_fake.reply_text = fake_reply
    response = stack.openai().responses.create(model="oa", input=QUESTION, text=text)  # type: ignore[arg-type]
    assert json.loads(response.output_text) == {"city": "Paris"}
    sent = stack.openai_fake.last_request.body["response_format"]
    assert sent == {
        "type": "json_schema",
        "json_schema": {"name": "place", "schema": SCHEMA, "strict": True},
    }
    stack.gemini_fake.reply_text = fake_reply
    stack.openai().responses.create(model="ge", input=QUESTION, text=text)  # type: ignore[arg-type]
    config = stack.gemini_fake.last_request.body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    # Anthropic has no enforced JSON output: refused, not silently ignored.
    with pytest.raises(openai.BadRequestError) as caught:
        stack.openai().responses.create(model="an", input=QUESTION, text=text)  # type: ignore[arg-type]
    assert "'text.format' json_schema" in caught.value.message
    assert stack.anthropic_fake.requests == []


REFUSED: list[tuple[dict[str, Any], str, str]] = [
    ({"input": QUESTION, "previous_response_id": "resp_1"}, "previous_response_id", "store"),
    ({"input": QUESTION, "conversation": "conv_1"}, "conversation", "whole conversation"),
    ({"input": QUESTION, "background": True}, "background", "background"),
    ({"input": QUESTION, "top_logprobs": 3}, "top_logprobs", "log-probabilities"),
    (
        {"input": QUESTION, "include": ["message.output_text.logprobs"]},
        "include[0]",
        "log-probabilities",
    ),
    ({}, "input", "required"),
    ({"input": []}, "input", "at least one"),
    ({"input": 7}, "input", "must be an array"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type", "references"),
    ({"input": [{"type": "web_search_call", "id": "ws_1"}]}, "input[0].type", "not supported"),
    (
        {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
        "input[0].content[0].type",
        "input_file",
    ),
    ({"input": [{"role": "robot", "content": "hi"}]}, "input[0].role", "robot"),
    (
        {"input": [{"type": "function_call_output", "output": "x"}]},
        "input[0].call_id",
        "required",
    ),
    ({"input": QUESTION, "tools": [{"type": "web_search"}]}, "tools[0].type", "function tools"),
    ({"input": QUESTION, "tool_choice": {"type": "file_search"}}, "tool_choice", "function"),
    (
        {"input": QUESTION, "text": {"format": {"type": "json_schema", "name": "x"}}},
        "text.format.schema",
        "required",
    ),
    ({"input": QUESTION, "temperature": 3}, "temperature", "between"),
    ({"input": QUESTION, "max_output_tokens": 0}, "max_output_tokens", "at least 1"),
]


@pytest.mark.parametrize(("body", "param", "says"), REFUSED, ids=[r[1] for r in REFUSED])
def test_refused_with_the_field_named(
    stack: Stack, body: dict[str, Any], param: str, says: str
) -> None:
    response = HTTP.post(
        f"{stack.base_url}/v1/responses",
        json={"model": "oa", **body},
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert says in error["message"]
    assert stack.openai_fake.requests == []


def test_sdk_sees_a_bad_request(stack: Stack) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        stack.openai().responses.create(model="oa", input=QUESTION, previous_response_id="r")
    assert "does not store responses" in caught.value.message


def test_stored_responses_are_not_found_and_say_why(stack: Stack) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        stack.openai().responses.retrieve("resp_sp-123")
    assert "does not store responses" in caught.value.message
    with pytest.raises(openai.NotFoundError):
        stack.openai().responses.delete("resp_sp-123")


def test_route_endpoint_reads_a_responses_body(stack: Stack) -> None:
    response = HTTP.post(
        f"{stack.base_url}/v1/route",
        json={"model": "an", "instructions": SYSTEM, "input": QUESTION},
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
    )
    assert response.status_code == 200, response.text
    decision = response.json()
    assert decision["profile"] == "an"
    assert decision["estimated_context_tokens"] > 0


def test_reasoning_effort_and_verbosity_reach_an_openai_chat_model(stack: Stack) -> None:
    stack.openai().responses.create(
        model="oa", input=QUESTION, reasoning={"effort": "high"}, text={"verbosity": "low"}
    )
    sent = stack.openai_fake.last_request.body
    assert (sent["reasoning_effort"], sent["verbosity"]) == ("high", "low")
    stack.openai().responses.create(model="oa", input=QUESTION)
    assert "reasoning_effort" not in stack.openai_fake.last_request.body
