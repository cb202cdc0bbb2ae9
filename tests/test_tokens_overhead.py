"""Message and tool overheads: OpenAI's documented formulas, and the wire tallies."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from switchpoint.chat.request import ChatRequest
from switchpoint.tokens import bpe, openai_format
from switchpoint.tokens.counter import TokenCounter
from switchpoint.tokens.tally import tally_anthropic_messages, tally_conversation, tally_openai_chat
from tests.data.transcripts import anthropic_body, conversation, generate, openai_body

# The cookbook's examples, whose counts it checked against the API's prompt_tokens.
JARGON = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that "
        "translates corporate jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth "
        "to touch base on opportunities for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the "
        "client deliverable.",
    },
]
WEATHER_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {
                        "type": "string",
                        "description": "The city and state, e.g. San Francisco, CA",
                    },
                    "unit": {
                        "type": "string",
                        "description": "The unit of temperature to return",
                        "enum": ["celsius", "fahrenheit"],
                    },
                },
                "required": ["location"],
            },
        },
    }
]
WEATHER = [
    {
        "role": "system",
        "content": "You are a helpful assistant that can answer to questions about the weather.",
    },
    {"role": "user", "content": "What's the weather like in San Francisco?"},
]


def exact(body: dict[str, Any], model: str) -> int:
    request = ChatRequest("openai_chat", body, stream=False)
    count = TokenCounter().count(request, model=model, provider_type="openai", force_exact=True)
    assert count.exact
    return count.tokens


@pytest.mark.parametrize(
    "model,expected",
    [("gpt-4o", 124), ("gpt-4o-mini", 124), ("gpt-4-0613", 129), ("gpt-3.5-turbo", 129)],
)
def test_messages_with_names_match_the_api_figures(model: str, expected: int) -> None:
    assert exact({"messages": JARGON}, model) == expected


@pytest.mark.parametrize("model,expected", [("gpt-4o", 101), ("gpt-4", 105)])
def test_tools_match_the_api_figures(model: str, expected: int) -> None:
    assert exact({"messages": WEATHER, "tools": WEATHER_TOOLS}, model) == expected


def test_message_formula_by_hand() -> None:
    body = {"messages": [{"role": "user", "content": "hello there"}]}
    text = bpe.count("o200k_base", "hello there")
    assert exact(body, "gpt-5.4") == 3 + 1 + text + 3


def test_tool_calls_and_results_cost_their_text_plus_the_assumed_framing() -> None:
    arguments = '{"path": "src/app.py"}'
    body = {
        "messages": [
            {"role": "user", "content": "read it"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "read_file", "arguments": arguments},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "print('hi')"},
        ]
    }
    texts = sum(
        bpe.count("o200k_base", t) for t in ["read it", "read_file", arguments, "print('hi')"]
    )
    framing = 3 * (openai_format.PER_MESSAGE + openai_format.ROLE) + openai_format.REPLY_PRIMING
    expected = texts + framing + openai_format.TOOL_CALL + openai_format.TOOL_RESULT
    count = TokenCounter().count(
        ChatRequest("openai_chat", body, stream=False),
        model="gpt-5.4",
        provider_type="openai",
        force_exact=True,
    )
    assert count.tokens == expected
    # The framing of calls and results is assumed, so it is in the bound.
    assert count.error_bound == 2 * openai_format.TOOL_SLACK


def test_nested_schema_parts_are_counted_and_marked_uncertain() -> None:
    tools = [
        (
            "search",
            "Search.",
            {
                "type": "object",
                "properties": {
                    "filters": {
                        "type": "object",
                        "description": "Filters.",
                        "properties": {"owner": {"type": "string"}},
                    }
                },
            },
        )
    ]
    cost = openai_format.tools_cost(tools, "o200k_base")
    assert cost.texts == ["search:Search", "filters:object:Filters"]
    assert cost.uncertain_texts == ['{"properties":{"owner":{"type":"string"}}}']
    assert cost.fixed == 7 + 3 + 3 + 12


def test_base64_images_are_not_counted_as_text() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 400_000}}
    body = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "what is this?"}, image]}
        ]
    }
    tally = tally_openai_chat(body)
    assert tally.texts == ["what is this?"] and tally.images == 1
    count = TokenCounter().count(
        ChatRequest("openai_chat", body, stream=False),
        model="gpt-4o",
        provider_type="openai",
        force_exact=True,
    )
    assert count.lower >= 85 and count.upper <= 1105 + 20


def test_the_three_shapes_of_one_transcript_tally_the_same_texts() -> None:
    t = generate(15_000, seed=11)
    from_openai = tally_openai_chat(openai_body(t))
    from_anthropic = tally_anthropic_messages(anthropic_body(t))
    from_conversation = tally_conversation(conversation(t))
    # Anthropic tool inputs are re-serialised from dicts: compare all other texts exactly.
    args = {c.arguments for turn in t.turns for c in turn.calls}

    def texts(tally_texts: list[str]) -> Counter[str]:
        return Counter(x for x in tally_texts if x not in args and not x.startswith("{"))

    assert texts(from_openai.texts) == texts(from_conversation.texts)
    assert texts(from_openai.texts) == texts(from_anthropic.texts)
    for tally in (from_openai, from_anthropic, from_conversation):
        assert tally.tool_calls == sum(len(turn.calls) for turn in t.turns)
        assert len(tally.tools) == 4
    assert from_openai.tool_results == from_conversation.tool_results == from_anthropic.tool_results


def test_only_the_last_assistant_turns_thinking_is_counted() -> None:
    body = {
        "system": "be brief",
        "messages": [
            {"role": "user", "content": "q1"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "old reasoning", "signature": "s"},
                    {"type": "text", "text": "a1"},
                ],
            },
            {"role": "user", "content": "q2"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "new reasoning", "signature": "s"},
                    {"type": "tool_use", "id": "t1", "name": "run", "input": {"x": 1}},
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}],
            },
        ],
    }
    tally = tally_anthropic_messages(body)
    assert "new reasoning" in tally.texts and "old reasoning" not in tally.texts
    assert tally.messages == 6 and tally.tool_calls == 1 and tally.tool_results == 1


def test_unknown_parts_with_payloads_are_media_not_text() -> None:
    audio = {"type": "input_audio", "input_audio": {"data": "UklGR" * 50_000, "format": "wav"}}
    small = {"type": "future_part", "note": "something new"}
    tally = tally_openai_chat({"messages": [{"role": "user", "content": [audio, small]}]})
    assert tally.images == 1
    assert tally.uncertain_texts == ['{"type":"future_part","note":"something new"}']
