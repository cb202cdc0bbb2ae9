"""Tool results as each vendor receives them, beyond the plain loop of `test_tools.py`:
several results, in another order than their calls, and results of several parts."""

from __future__ import annotations

import base64
import re
from typing import Any

import openai
import pytest

from tests.e2e.conftest import Stack, StackFactory, add_responses_profile

TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def _call(ident: str, city: str) -> dict[str, Any]:
    arguments = f'{{"city": "{city}"}}'
    return {
        "id": ident,
        "type": "function",
        "function": {"name": "get_weather", "arguments": arguments},
    }


def test_gemini_gets_results_in_the_order_of_their_calls(stack: Stack) -> None:
    """Two calls of one function (made by another vendor: Gemini gave them no ids),
    answered in the other order. Gemini pairs results with calls by name and position,
    so results sent in the client's order swapped the two cities' weather."""
    messages: list[Any] = [
        {"role": "user", "content": "Weather in Paris and in London?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [_call("call_paris", "Paris"), _call("call_london", "London")],
        },
        {"role": "tool", "tool_call_id": "call_london", "content": "London: rain"},
        {"role": "tool", "tool_call_id": "call_paris", "content": "Paris: sun"},
    ]
    stack.openai().chat.completions.create(model="ge", messages=messages, tools=TOOLS)

    call_turn, result_turn = stack.gemini_fake.last_request.body["contents"][-2:]
    cities = [p["functionCall"]["args"]["city"] for p in call_turn["parts"]]
    outputs = [p["functionResponse"]["response"]["output"] for p in result_turn["parts"]]
    assert cities == ["Paris", "London"]
    assert outputs == ["Paris: sun", "London: rain"]


def test_gemini_gets_a_results_images_after_every_result(stack: Stack) -> None:
    """An Anthropic client's results, the first with an image, in the other order than
    their calls: the function responses come first, in their calls' order, then the
    image, then the turn's text."""
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
    }
    messages: list[Any] = [
        {"role": "user", "content": "Shoot both"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_a", "name": "shoot", "input": {"n": 1}},
                {"type": "tool_use", "id": "toolu_b", "name": "shoot", "input": {"n": 2}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_b", "content": [image]},
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": "a done"},
                {"type": "text", "text": "What do you see?"},
            ],
        },
    ]
    tools: list[Any] = [{"name": "shoot", "input_schema": {"type": "object"}}]
    stack.anthropic().messages.create(model="ge", max_tokens=100, messages=messages, tools=tools)

    parts = stack.gemini_fake.last_request.body["contents"][-1]["parts"]
    assert [next(iter(p)) for p in parts] == [
        "functionResponse",
        "functionResponse",
        "inlineData",
        "text",
    ]
    assert parts[0]["functionResponse"]["response"] == {"output": "a done"}
    assert parts[1]["functionResponse"]["response"] == {"output": ""}


def _two_block_result(stack: Stack, profile: str, is_error: bool) -> None:
    """An Anthropic client's tool result of two text blocks (as MCP tools return)."""
    messages: list[Any] = [
        {"role": "user", "content": "Read both files"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_r", "name": "read", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_r",
                    "is_error": is_error,
                    "content": [
                        {"type": "text", "text": "first line"},
                        {"type": "text", "text": "second line"},
                    ],
                }
            ],
        },
    ]
    tools: list[Any] = [{"name": "read", "input_schema": {"type": "object"}}]
    stack.anthropic().messages.create(model=profile, max_tokens=100, messages=messages, tools=tools)


@pytest.mark.parametrize("is_error", [False, True])
def test_a_results_text_blocks_stay_apart_for_every_vendor(
    make_stack: StackFactory, is_error: bool
) -> None:
    """Each vendor got the two blocks joined into "first linesecond line"."""
    stack = make_stack(edit=lambda d: add_responses_profile(d, "rs", "gpt-rs-test"))
    error = "Error: " if is_error else ""

    _two_block_result(stack, "oa", is_error)
    result = stack.openai_fake.last_request.body["messages"][-1]
    assert result["role"] == "tool"
    assert result["content"] == [
        {"type": "text", "text": f"{error}first line"},
        {"type": "text", "text": "second line"},
    ]

    _two_block_result(stack, "rs", is_error)
    output = stack.openai_fake.last_request.body["input"][-1]
    assert output["type"] == "function_call_output"
    assert output["output"] == [
        {"type": "input_text", "text": f"{error}first line"},
        {"type": "input_text", "text": "second line"},
    ]

    _two_block_result(stack, "ge", is_error)
    [part] = stack.gemini_fake.last_request.body["contents"][-1]["parts"]
    key = "error" if is_error else "output"
    assert part["functionResponse"]["response"] == {key: ["first line", "second line"]}


PIXEL = "iVBORw0KGgo="


def _screenshot_turns(content: list[Any]) -> list[Any]:
    return [
        {"role": "user", "content": "Take a screenshot"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_shot",
                    "type": "function",
                    "function": {"name": "screenshot", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_shot", "content": content},
    ]


SHOT_TOOLS: list[Any] = [
    {"type": "function", "function": {"name": "screenshot", "parameters": {"type": "object"}}}
]


@pytest.mark.parametrize("profile", ["an", "ge"])
def test_an_image_in_an_openai_tool_message_reaches_a_vendor_that_takes_it(
    stack: Stack, profile: str
) -> None:
    """OpenAI's tool messages take text only, but clients of other models behind its
    protocol put a tool's images there: Claude and Gemini take them, and they were
    dropped without a word."""
    content = [
        {"type": "text", "text": "the screen:"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
    ]
    messages = _screenshot_turns(content)
    stack.openai().chat.completions.create(model=profile, messages=messages, tools=SHOT_TOOLS)

    body = stack.fake(profile).last_request.body
    if profile == "an":
        [result] = body["messages"][-1]["content"]
        assert result["type"] == "tool_result"
        assert result["content"] == [
            {"type": "text", "text": "the screen:"},
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": PIXEL},
            },
        ]
    else:
        response, image = body["contents"][-1]["parts"]
        assert response["functionResponse"]["response"] == {"output": "the screen:"}
        assert image == {"inlineData": {"mimeType": "image/png", "data": PIXEL}}


def test_a_tool_message_part_no_vendor_takes_is_a_400_naming_it(stack: Stack) -> None:
    content = [{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]
    with pytest.raises(openai.BadRequestError) as raised:
        stack.openai().chat.completions.create(
            model="an", messages=_screenshot_turns(content), tools=SHOT_TOOLS
        )
    assert raised.value.status_code == 400
    assert "messages[2].content[0].type" in str(raised.value)
    assert stack.anthropic_fake.request_count() == 0


@pytest.mark.parametrize("profile", ["an", "ge"])
def test_a_data_url_not_in_base64_reaches_every_vendor_in_base64(
    stack: Stack, profile: str
) -> None:
    """`data:image/svg+xml;utf8,<svg ...>` (percent-encoded, not base64) went to
    Anthropic and Gemini as if it were base64, which they cannot decode."""
    svg = '<svg xmlns="http://www.w3.org/2000/svg"/>'
    url = "data:image/svg+xml;utf8," + svg.replace(" ", "%20")
    content: list[Any] = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": url}},
    ]
    stack.openai().chat.completions.create(
        model=profile, messages=[{"role": "user", "content": content}]
    )

    body = stack.fake(profile).last_request.body
    if profile == "an":
        source = body["messages"][0]["content"][1]["source"]
        media_type, data = source["media_type"], source["data"]
    else:
        inline = body["contents"][0]["parts"][1]["inlineData"]
        media_type, data = inline["mimeType"], inline["data"]
    assert media_type == "image/svg+xml"
    assert base64.b64decode(data, validate=True).decode() == svg


GEMINI_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
LONG_NAME = "mcp__company_knowledge_base__search_documents_by_semantic_similarity_v2"


@pytest.mark.parametrize("stream", [False, True])
def test_a_tool_name_gemini_refuses_is_aliased_there_and_restored(
    stack: Stack, stream: bool
) -> None:
    """An Anthropic client's MCP tool (a name of more than 64 characters) and a tool
    whose name begins with a digit: Gemini refuses both names with a 400 for the whole
    request, and they went as they were. Now Gemini knows them by aliases it takes, the
    client sees its calls under the tools' names, and the next turn's call and result
    reach Gemini under the alias again."""
    tools: list[Any] = [
        {"name": LONG_NAME, "input_schema": {"type": "object"}},
        {"name": "2fa_check", "input_schema": {"type": "object"}},
    ]
    question = {"role": "user", "content": "Find the design doc"}
    client = stack.anthropic()
    client.messages.create(
        model="ge",
        max_tokens=100,
        messages=[question],
        tools=tools,
        tool_choice={"type": "tool", "name": LONG_NAME},
    )
    sent = stack.gemini_fake.last_request.body
    aliases = [d["name"] for d in sent["tools"][0]["functionDeclarations"]]
    assert all(GEMINI_NAME.fullmatch(alias) for alias in aliases), aliases
    assert len(set(aliases)) == 2
    config = sent["toolConfig"]["functionCallingConfig"]
    assert config["allowedFunctionNames"] == [aliases[0]]

    stack.gemini_fake.tool_call = (aliases[0], {"query": "design"})
    if stream:
        with client.messages.stream(
            model="ge", max_tokens=100, messages=[question], tools=tools
        ) as events:
            answer = events.get_final_message()
    else:
        answer = client.messages.create(
            model="ge", max_tokens=100, messages=[question], tools=tools
        )
    [call] = [block for block in answer.content if block.type == "tool_use"]
    assert call.name == LONG_NAME
    assert call.input == {"query": "design"}

    result = {"type": "tool_result", "tool_use_id": call.id, "content": "found it"}
    client.messages.create(
        model="ge",
        max_tokens=100,
        messages=[
            question,
            {"role": "assistant", "content": [call.model_dump(exclude_none=True)]},
            {"role": "user", "content": [result]},
        ],
        tools=tools,
    )
    call_turn, result_turn = stack.gemini_fake.last_request.body["contents"][-2:]
    assert call_turn["parts"][0]["functionCall"]["name"] == aliases[0]
    assert result_turn["parts"][0]["functionResponse"]["name"] == aliases[0]


STRICT_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}


def test_strict_tools_stay_strict_between_openais_two_apis(make_stack: StackFactory) -> None:
    """A chat client's `strict: true` tool went to a Responses model as `strict: false`,
    and a Responses client's to a chat model without `strict`: the model's arguments
    were no longer held to the schema. A tool the client did not make strict stays not
    strict (the Responses API would assume strict were it not said)."""
    stack = make_stack(edit=lambda d: add_responses_profile(d, "rs", "gpt-rs-test"))
    chat_tools: list[Any] = [
        {
            "type": "function",
            "function": {"name": "get_weather", "parameters": STRICT_SCHEMA, "strict": True},
        },
        {"type": "function", "function": {"name": "loose", "parameters": {"type": "object"}}},
    ]
    user = {"role": "user", "content": "Weather in Paris?"}
    stack.openai().chat.completions.create(model="rs", messages=[user], tools=chat_tools)
    sent = stack.openai_fake.last_request.body["tools"]
    assert [(t["name"], t["strict"]) for t in sent] == [("get_weather", True), ("loose", False)]

    responses_tools: list[Any] = [
        {"type": "function", "name": "get_weather", "parameters": STRICT_SCHEMA, "strict": True},
        {"type": "function", "name": "loose", "parameters": {"type": "object"}, "strict": False},
    ]
    stack.openai().responses.create(model="oa", input="Weather in Paris?", tools=responses_tools)
    sent = stack.openai_fake.last_request.body["tools"]
    assert [t["function"].get("strict") for t in sent] == [True, False]
