"""Anthropic content the internal shape does not model (server tool calls and their
results, citations) reaches an Anthropic client as Claude sent it, streamed as whole;
clients of other protocols get the answer without it, never a broken stream."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tests.e2e.conftest import Stack, StackFactory
from tests.fakes import CutAfter, RawResponse
from tests.fakes.raw_streams import anthropic_message_start, sse_response

QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]
WEB_SEARCH = [{"type": "web_search_20250305", "name": "web_search", "max_uses": 1}]
CITATION = {
    "type": "web_search_result_location",
    "cited_text": "sunny",
    "url": "https://w.example",
    "title": "Weather",
    "encrypted_index": "x",
}
RESULT = {
    "type": "web_search_result",
    "title": "Weather",
    "url": "https://w.example",
    "encrypted_content": "abc",
    "page_age": None,
}


def claude_stream() -> RawResponse:
    events: list[dict[str, Any]] = [
        anthropic_message_start("msg_ws", input_tokens=30),
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {
                "type": "server_tool_use",
                "id": "srvtoolu_1",
                "name": "web_search",
                "input": {},
            },
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"query": "paris weather"}'},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {
                "type": "web_search_tool_result",
                "tool_use_id": "srvtoolu_1",
                "content": [RESULT],
            },
        },
        {"type": "content_block_stop", "index": 1},
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "text", "text": "", "citations": []},
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "citations_delta", "citation": CITATION},
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "text_delta", "text": "It is sunny."},
        },
        {"type": "content_block_stop", "index": 2},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 9, "server_tool_use": {"web_search_requests": 1}},
        },
        {"type": "message_stop"},
    ]
    return sse_response(events, named=True)


def test_server_tool_blocks_and_citations_stream_to_an_anthropic_client(stack: Stack) -> None:
    stack.anthropic_fake.enqueue(claude_stream())
    with stack.anthropic().messages.stream(
        model="an", max_tokens=100, messages=QUESTION, tools=WEB_SEARCH
    ) as events:
        message = events.get_final_message()
    assert [b.type for b in message.content] == [
        "server_tool_use",
        "web_search_tool_result",
        "text",
    ]
    call, result, text = message.content
    assert call.type == "server_tool_use" and call.input == {"query": "paris weather"}
    assert result.type == "web_search_tool_result"
    assert result.tool_use_id == "srvtoolu_1"
    assert text.type == "text" and text.text == "It is sunny."
    assert text.citations is not None and len(text.citations) == 1
    assert text.citations[0].cited_text == "sunny"
    assert message.stop_reason == "end_turn"


def test_an_openai_client_gets_the_text_without_them(stack: Stack) -> None:
    stack.anthropic_fake.enqueue(claude_stream())
    chunks = list(
        stack.openai().chat.completions.create(model="an", messages=QUESTION, stream=True)
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
    assert (text, finish) == ("It is sunny.", "stop")


def no_prefill(document: dict[str, Any]) -> None:
    """Claude models from 4.6 on (the built-in registry's Opus 4.7) take no prefill."""
    document["models"]["claude-test"]["supports_prefill"] = False


DOCUMENT = {
    "type": "document",
    "source": {"type": "text", "media_type": "text/plain", "data": "The build log."},
}


def test_blocks_only_anthropic_takes_reach_a_model_without_prefill_as_sent(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(edit=no_prefill)
    messages: Any = [
        {"role": "user", "content": [DOCUMENT, {"type": "text", "text": "What failed?"}]},
        {"role": "assistant", "content": "The tests."},
        {"role": "user", "content": "Search why."},
    ]
    message = stack.anthropic().messages.create(
        model="an", max_tokens=100, messages=messages, tools=WEB_SEARCH
    )
    assert message.content[0].type == "text"
    sent = stack.anthropic_fake.last_request.body
    assert sent["messages"][0]["content"][0] == DOCUMENT
    assert sent["tools"] == WEB_SEARCH


def test_a_prefill_served_by_a_model_without_it_is_still_not_repeated(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(edit=no_prefill)
    # A model without prefill answers anew, repeating the prefill: the client's turn
    # continues it, so the repeat is cut (read from the body, whose document stays as sent).
    stack.anthropic_fake.prefill = "ignore"
    stack.anthropic_fake.reply_text = '{"city": "Paris"}'
    messages: Any = [
        {"role": "user", "content": [DOCUMENT, {"type": "text", "text": "As JSON."}]},
        {"role": "assistant", "content": '{"city":'},
    ]
    message = stack.anthropic().messages.create(model="an", max_tokens=100, messages=messages)
    assert message.content[0].type == "text"
    assert message.content[0].text == ' "Paris"}'
    assert stack.anthropic_fake.last_request.body["messages"][0]["content"][0] == DOCUMENT


def test_a_cut_stream_whose_conversation_cannot_be_resent_ends_with_an_error_event(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(fallback=True)  # continuations on
    stack.anthropic_fake.reply_text = "one two three four five six seven eight nine ten " * 5
    stack.anthropic_fake.stream_chunks = 10
    stack.anthropic_fake.enqueue(CutAfter(8))  # after some text reached the client
    messages: Any = [{"role": "user", "content": [DOCUMENT, {"type": "text", "text": "Read."}]}]
    texts: list[str] = []
    stream = stack.anthropic().messages.stream(model="an", max_tokens=200, messages=messages)
    with pytest.raises(anthropic.APIStatusError) as raised, stream as events:
        texts.extend(events.text_stream)
    assert texts  # part of the answer was streamed before the cut
    message = str(raised.value)
    assert "interrupted after part of it had been streamed" in message
    assert "cannot be sent again" in message
    call = stack.recorder.calls[-1]
    assert call.status == "upstream_error" and call.error is not None
