"""A Responses client (`/v1/responses`) served by a Chat Completions model that refuses
(OpenAI chat's `message.refusal`, streamed as `delta.refusal`). The Responses API has a
content part of its own for it, `{"type": "refusal", "refusal": ...}`, streamed as
`response.refusal.delta` / `response.refusal.done`: the SDK's `parse()` validates the
`output_text` parts against the schema, and `response.output_text` is read as the
answer, so a refusal sent as `output_text` made `parse()` raise and passed "I'm
sorry..." off as the answer. Checked whole and streamed (with the stream's item
lifecycle); and a Responses model's refusal reaches each client as its protocol says a
refusal: a `refusal` part for a Responses client (streamed too), `refusal` and `stop`
for an OpenAI chat client, text with the refusal stop for an Anthropic client."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from pydantic import BaseModel

from switchpoint.transport.sse import SSEDecoder
from tests.e2e.conftest import CLIENT_KEY, Stack, StackFactory, add_responses_profile
from tests.fakes import Refusal
from tests.fakes.reply import REFUSAL_TEXT
from tests.unit.test_responses_stream_order import check_lifecycle

QUESTION = "Weather in Paris?"


class Weather(BaseModel):
    city: str
    celsius: float


def message_parts(output: list[Any]) -> list[Any]:
    return [part for item in output if item.type == "message" for part in item.content]


def test_parse_surfaces_the_refusal(stack: Stack) -> None:
    stack.openai_fake.enqueue(Refusal())
    # Raised pydantic.ValidationError: the refusal's text was sent as `output_text`,
    # which `parse()` validates against the schema.
    response = stack.openai().responses.parse(model="oa", input=QUESTION, text_format=Weather)
    assert response.status == "completed"
    [part] = message_parts(response.output)
    assert part.type == "refusal" and part.refusal == REFUSAL_TEXT
    assert response.output_text == ""  # the refusal is not the answer's text
    assert response.output_parsed is None


def test_the_sdk_reads_a_streamed_refusal_as_one(stack: Stack) -> None:
    stack.openai_fake.enqueue(Refusal())
    events = list(stack.openai().responses.create(model="oa", input=QUESTION, stream=True))
    refusal = "".join(e.delta for e in events if e.type == "response.refusal.delta")
    assert refusal == REFUSAL_TEXT
    last = events[-1]
    # A model that refused has answered (OpenAI's chat says `stop`): the SDK's stream
    # helper wants `response.completed`, and raised without it.
    assert last.type == "response.completed"
    assert last.response.status == "completed" and last.response.incomplete_details is None
    [part] = message_parts(last.response.output)
    assert part.type == "refusal" and part.refusal == REFUSAL_TEXT
    assert last.response.output_text == ""


def test_stream_uses_refusal_events(stack: Stack) -> None:
    stack.openai_fake.enqueue(Refusal())
    raw = httpx2.post(
        f"{stack.base_url}/v1/responses",
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
        json={"model": "oa", "input": QUESTION, "stream": True},
        timeout=30,
    )
    events: list[dict[str, Any]] = [json.loads(e.data) for e in SSEDecoder().feed(raw.content)]
    check_lifecycle(events)  # sequence numbers; the deltas add up to the done part
    kinds = [e["type"] for e in events]
    assert "response.output_text.delta" not in kinds, kinds
    assert "response.output_text.done" not in kinds, kinds
    parts = [e["part"] for e in events if e["type"].startswith("response.content_part.")]
    assert parts == [
        {"type": "refusal", "refusal": ""},
        {"type": "refusal", "refusal": REFUSAL_TEXT},
    ]
    [done] = [e for e in events if e["type"] == "response.refusal.done"]
    assert done["refusal"] == REFUSAL_TEXT
    assert {"item_id", "output_index", "content_index", "sequence_number"} <= done.keys()


def test_an_openai_chat_client_still_gets_message_refusal(stack: Stack) -> None:
    """The same-protocol path is untouched: OpenAI's own body, refusal apart."""
    stack.openai_fake.enqueue(Refusal())
    completion = stack.openai().chat.completions.create(
        model="oa", messages=[{"role": "user", "content": QUESTION}]
    )
    message = completion.choices[0].message
    assert (message.content, message.refusal) == (None, REFUSAL_TEXT)
    assert completion.choices[0].finish_reason == "stop"


# --- the other way: a model served over the Responses API refuses --------------------


@pytest.fixture
def rstack(make_stack: StackFactory) -> Stack:
    """The e2e stack plus a profile `rs` served over the Responses API."""

    def add_rs(document: dict[str, Any]) -> None:
        add_responses_profile(document, "rs", "gpt-rs-test")

    return make_stack(edit=add_rs)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_responses_model_s_refusal_reaches_an_anthropic_client_as_text(
    rstack: Stack, stream: bool
) -> None:
    rstack.openai_fake.enqueue(Refusal())
    request: dict[str, Any] = {
        "model": "rs",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": QUESTION}],
    }
    if stream:
        with rstack.anthropic().messages.stream(**request) as events:
            message = events.get_final_message()
    else:
        message = rstack.anthropic().messages.create(**request)
    assert message.stop_reason == "refusal"
    assert "".join(b.text for b in message.content if b.type == "text") == REFUSAL_TEXT


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_responses_model_s_refusal_reaches_an_openai_chat_client_as_a_refusal(
    rstack: Stack, stream: bool
) -> None:
    # As OpenAI's chat sends one: in `refusal`, not `content`, and the answer `stop`s.
    rstack.openai_fake.enqueue(Refusal())
    messages: list[Any] = [{"role": "user", "content": QUESTION}]
    client = rstack.openai()
    if stream:
        chunks = list(client.chat.completions.create(model="rs", messages=messages, stream=True))
        deltas = [c.choices[0].delta for c in chunks if c.choices]
        text = "".join(d.content or "" for d in deltas)
        refusal = "".join(d.refusal or "" for d in deltas)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
    else:
        completion = client.chat.completions.create(model="rs", messages=messages)
        message = completion.choices[0].message
        text, refusal = message.content or "", message.refusal or ""
        finish = completion.choices[0].finish_reason
    assert (text, refusal, finish) == ("", REFUSAL_TEXT, "stop")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_responses_model_s_refusal_reaches_a_responses_client_as_one(
    rstack: Stack, stream: bool
) -> None:
    rstack.openai_fake.enqueue(Refusal())
    if stream:
        with rstack.openai().responses.stream(model="rs", input=QUESTION) as events:
            response = events.get_final_response()
    else:
        response = rstack.openai().responses.create(model="rs", input=QUESTION)
    [part] = message_parts(response.output)
    assert part.type == "refusal" and part.refusal == REFUSAL_TEXT
    assert response.output_text == ""


def test_the_sdk_stream_helper_ends_a_refusal(stack: Stack) -> None:
    stack.openai_fake.enqueue(Refusal())
    with stack.openai().responses.stream(model="oa", input=QUESTION, text_format=Weather) as stream:
        final = stream.get_final_response()
    [part] = message_parts(final.output)
    assert part.type == "refusal" and final.output_parsed is None
