"""Full tool loops (call, result, answer) through both SDKs and every vendor, streamed
and not, and what each vendor receives of the tools, the calls and the results."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.e2e.conftest import MODELS, PROFILES, Stack, StackFactory
from tests.fakes import RawResponse

WEATHER = {"city": "Paris", "unit": "celsius"}
RESULT = "18C and sunny"
QUESTION = "What is the weather in Paris"
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
    "required": ["city"],
}
OPENAI_TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {"name": "get_weather", "description": "Weather now", "parameters": SCHEMA},
    }
]
ANTHROPIC_TOOLS: list[Any] = [
    {"name": "get_weather", "description": "Weather now", "input_schema": SCHEMA}
]


def arm(stack: Stack, profile: str, preamble: str | None = None) -> None:
    fake = stack.fake(profile)
    fake.tool_call = ("get_weather", WEATHER)
    fake.tool_preamble = preamble
    fake.stream_chunks = 3


def assert_result_reached_vendor(stack: Stack, profile: str, call_id: str) -> None:
    """The second turn carried the call and its result in the vendor's own shape."""
    body = stack.fake(profile).last_request.body
    if profile == "oa":
        call, result = body["messages"][-2:]
        assert call["role"] == "assistant"
        assert call["tool_calls"][0]["id"] == call_id
        assert call["tool_calls"][0]["function"]["name"] == "get_weather"
        assert json.loads(call["tool_calls"][0]["function"]["arguments"]) == WEATHER
        assert result == {"role": "tool", "tool_call_id": call_id, "content": RESULT}
        assert body["tools"][0]["function"]["parameters"] == SCHEMA
    elif profile == "an":
        call, result = body["messages"][-2:]
        [use] = [b for b in call["content"] if b["type"] == "tool_use"]
        assert use == {"type": "tool_use", "id": call_id, "name": "get_weather", "input": WEATHER}
        assert result["role"] == "user"
        [block] = result["content"]
        assert block["type"] == "tool_result" and block["tool_use_id"] == call_id
        content = block["content"]
        text = content if isinstance(content, str) else "".join(p["text"] for p in content)
        assert text == RESULT
        assert body["tools"][0]["input_schema"] == SCHEMA
        assert body["tools"][0]["name"] == "get_weather"
    else:
        call, result = body["contents"][-2:]
        assert call["role"] == "model"
        [part] = [p for p in call["parts"] if "functionCall" in p]
        assert part["functionCall"] == {"name": "get_weather", "args": WEATHER}
        # Gemini 3 wants a thought signature on replayed calls; Google's stand-in is used.
        assert part["thoughtSignature"] == "skip_thought_signature_validator"
        # Gemini matches a result to its call by name: recovered from the call's id.
        assert result == {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"output": RESULT}}}
            ],
        }
        [declaration] = body["tools"][0]["functionDeclarations"]
        assert declaration == {
            "name": "get_weather",
            "description": "Weather now",
            "parametersJsonSchema": SCHEMA,
        }


# --- OpenAI SDK ---------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_openai_tool_loop(stack: Stack, profile: str) -> None:
    arm(stack, profile)
    client = stack.openai()
    user = {"role": "user", "content": QUESTION}
    first = client.chat.completions.create(model=profile, messages=[user], tools=OPENAI_TOOLS)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    [call] = choice.message.tool_calls
    assert call.type == "function" and call.id
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == WEATHER

    assistant = choice.message.model_dump(exclude_none=True)
    result = {"role": "tool", "tool_call_id": call.id, "content": RESULT}
    second = client.chat.completions.create(
        model=profile, messages=[user, assistant, result], tools=OPENAI_TOOLS
    )
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == f"Hello from {MODELS[profile]}."
    assert_result_reached_vendor(stack, profile, call.id)


@pytest.mark.parametrize("profile", PROFILES)
def test_openai_streamed_tool_loop(stack: Stack, profile: str) -> None:
    arm(stack, profile, preamble="Let me check.")
    client = stack.openai()
    user = {"role": "user", "content": QUESTION}
    chunks = list(
        client.chat.completions.create(
            model=profile, messages=[user], tools=OPENAI_TOOLS, stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Let me check."
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
    assert calls, "no tool call was streamed"
    assert {tc.index for tc in calls} == {0}
    call_id = calls[0].id
    assert call_id and calls[0].function is not None
    assert calls[0].function.name == "get_weather"
    arguments = "".join(tc.function.arguments or "" for tc in calls if tc.function)
    assert json.loads(arguments) == WEATHER
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "tool_calls"

    assistant = {
        "role": "assistant",
        "content": text,
        "tool_calls": [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": "get_weather", "arguments": arguments},
            }
        ],
    }
    result = {"role": "tool", "tool_call_id": call_id, "content": RESULT}
    answer = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(
            model=profile, messages=[user, assistant, result], tools=OPENAI_TOOLS, stream=True
        )
        if c.choices
    )
    assert answer == f"Hello from {MODELS[profile]}."
    assert_result_reached_vendor(stack, profile, call_id)


@pytest.mark.parametrize("profile", PROFILES)
def test_a_streamed_call_without_arguments_has_an_empty_object(stack: Stack, profile: str) -> None:
    """A tool without parameters: Anthropic streams `input: {}` and one empty fragment.
    The client must still get the arguments "{}" (what every vendor sends unstreamed),
    not "", which no JSON parser takes (the SDK's stream helper raised on it)."""
    fake = stack.fake(profile)
    fake.tool_call = ("get_time", {})
    fake.stream_chunks = 3
    tools: list[Any] = [
        {
            "type": "function",
            "function": {
                "name": "get_time",
                "description": "Time now",
                "parameters": {"type": "object", "properties": {}},
            },
        }
    ]
    user = {"role": "user", "content": "What time is it?"}
    with stack.openai().chat.completions.stream(
        model=profile, messages=[user], tools=tools
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    [call] = final.choices[0].message.tool_calls or []
    assert call.function.name == "get_time"
    assert json.loads(call.function.arguments) == {}
    assert final.choices[0].finish_reason == "tool_calls"


# --- Anthropic SDK ------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_anthropic_tool_loop(stack: Stack, profile: str) -> None:
    arm(stack, profile, preamble="Let me check.")
    client = stack.anthropic()
    user = {"role": "user", "content": QUESTION}
    first = client.messages.create(
        model=profile, max_tokens=200, messages=[user], tools=ANTHROPIC_TOOLS
    )
    assert first.stop_reason == "tool_use"
    assert [b.type for b in first.content] == ["text", "tool_use"]
    assert first.content[0].type == "text" and first.content[0].text == "Let me check."
    use = first.content[1]
    assert use.type == "tool_use" and use.id
    assert use.name == "get_weather" and use.input == WEATHER

    assistant = {
        "role": "assistant",
        "content": [b.model_dump(exclude_none=True) for b in first.content],
    }
    result = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": use.id, "content": RESULT}],
    }
    second = client.messages.create(
        model=profile, max_tokens=200, messages=[user, assistant, result], tools=ANTHROPIC_TOOLS
    )
    assert second.stop_reason == "end_turn"
    assert second.content[0].type == "text"
    assert second.content[0].text == f"Hello from {MODELS[profile]}."
    assert_result_reached_vendor(stack, profile, use.id)


@pytest.mark.parametrize("profile", PROFILES)
def test_anthropic_streamed_tool_loop(stack: Stack, profile: str) -> None:
    arm(stack, profile)
    client = stack.anthropic()
    user = {"role": "user", "content": QUESTION}
    with client.messages.stream(
        model=profile, max_tokens=200, messages=[user], tools=ANTHROPIC_TOOLS
    ) as stream:
        events = list(stream)
        first = stream.get_final_message()
    json_deltas = [
        e.delta.partial_json
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
    ]
    assert json.loads("".join(json_deltas)) == WEATHER
    assert first.stop_reason == "tool_use"
    [use] = [b for b in first.content if b.type == "tool_use"]
    assert use.name == "get_weather" and use.input == WEATHER

    assistant = {
        "role": "assistant",
        "content": [b.model_dump(exclude_none=True) for b in first.content],
    }
    result = {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": use.id,
                "content": [{"type": "text", "text": RESULT}],
            }
        ],
    }
    with client.messages.stream(
        model=profile, max_tokens=200, messages=[user, assistant, result], tools=ANTHROPIC_TOOLS
    ) as stream:
        second = stream.get_final_message()
    assert second.stop_reason == "end_turn"
    assert second.content[0].type == "text"
    assert second.content[0].text == f"Hello from {MODELS[profile]}."
    assert_result_reached_vendor(stack, profile, use.id)


# --- tool choice and failed tools -----------------------------------------------------


def test_openai_tool_choice_reaches_each_vendor(stack: Stack) -> None:
    client = stack.openai()
    named = {"type": "function", "function": {"name": "get_weather"}}
    for profile in PROFILES:
        client.chat.completions.create(
            model=profile,
            messages=[{"role": "user", "content": QUESTION}],
            tools=OPENAI_TOOLS,
            tool_choice=named,
            parallel_tool_calls=False,
        )
    assert stack.anthropic_fake.last_request.body["tool_choice"] == {
        "type": "tool",
        "name": "get_weather",
        "disable_parallel_tool_use": True,
    }
    assert stack.gemini_fake.last_request.body["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    }
    assert stack.openai_fake.last_request.body["tool_choice"] == named


def test_anthropic_tool_choice_reaches_openai(stack: Stack) -> None:
    stack.anthropic().messages.create(
        model="oa",
        max_tokens=100,
        messages=[{"role": "user", "content": QUESTION}],
        tools=ANTHROPIC_TOOLS,
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
    )
    body = stack.openai_fake.last_request.body
    assert body["tool_choice"] == "required"
    assert body["parallel_tool_calls"] is False
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "get_weather", "description": "Weather now", "parameters": SCHEMA},
        }
    ]


def test_failed_tool_results_keep_their_error_flag(stack: Stack) -> None:
    messages: list[Any] = [
        {"role": "user", "content": QUESTION},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": WEATHER}
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": "service down",
                    "is_error": True,
                }
            ],
        },
    ]
    client = stack.anthropic()
    for profile in ("oa", "ge"):
        client.messages.create(
            model=profile, max_tokens=100, messages=messages, tools=ANTHROPIC_TOOLS
        )
    assert stack.openai_fake.last_request.body["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "toolu_1",
        "content": "Error: service down",
    }
    assert stack.gemini_fake.last_request.body["contents"][-1]["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"error": "service down"}}}
    ]


def test_gemini_call_ids_are_unique_across_turns(stack: Stack) -> None:
    arm(stack, "ge")
    client = stack.openai()
    ids = set()
    for _ in range(3):
        completion = client.chat.completions.create(
            model="ge", messages=[{"role": "user", "content": QUESTION}], tools=OPENAI_TOOLS
        )
        [call] = completion.choices[0].message.tool_calls or []
        ids.add(call.id)
    assert len(ids) == 3


def gemini_call_with_signature(
    stream: bool, signature: str = "c2lnbmF0dXJlLWZyb20tZ2VtaW5p", call_id: str | None = None
) -> RawResponse:
    """A Gemini 3 answer: one function call with a thought signature (and Gemini's own
    id for it, if given)."""
    call: dict[str, Any] = {"name": "get_weather", "args": WEATHER}
    if call_id is not None:
        call["id"] = call_id
    answer = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"functionCall": call, "thoughtSignature": signature}],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 3},
        "modelVersion": "gemini-3-test",
    }
    if stream:
        body = f"data: {json.dumps(answer)}\r\n\r\n".encode()
        return RawResponse(status=200, body=body, content_type="text/event-stream")
    return RawResponse(status=200, body=json.dumps(answer).encode())


def ask_gemini_for_a_call(stack: Stack, stream: bool) -> str:
    """The weather question with tools, to the `ge` profile, streamed or not: the id
    of the one call in the answer, as the client got it."""
    client = stack.openai()
    user = {"role": "user", "content": QUESTION}
    if stream:
        chunks = client.chat.completions.create(
            model="ge", messages=[user], tools=OPENAI_TOOLS, stream=True
        )
        [call_id] = [
            tc.id
            for c in chunks
            if c.choices
            for tc in c.choices[0].delta.tool_calls or ()
            if tc.id
        ]
        return call_id
    first = client.chat.completions.create(model="ge", messages=[user], tools=OPENAI_TOOLS)
    [tool_call] = first.choices[0].message.tool_calls or []
    return tool_call.id


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
def test_gemini_gets_its_own_thought_signature_back(stack: Stack, stream: bool) -> None:
    """An OpenAI client has nowhere to keep Gemini's signature: the gateway does."""
    stack.gemini_fake.enqueue(gemini_call_with_signature(stream))
    client = stack.openai()
    user = {"role": "user", "content": QUESTION}
    call_id = ask_gemini_for_a_call(stack, stream)
    assert call_id
    assistant = {
        "role": "assistant",
        "tool_calls": [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": "get_weather", "arguments": json.dumps(WEATHER)},
            }
        ],
    }
    result = {"role": "tool", "tool_call_id": call_id, "content": RESULT}
    client.chat.completions.create(
        model="ge", messages=[user, assistant, result], tools=OPENAI_TOOLS
    )
    call_part = stack.gemini_fake.last_request.body["contents"][1]["parts"][0]
    assert call_part["thoughtSignature"] == "c2lnbmF0dXJlLWZyb20tZ2VtaW5p"
    # Gemini gave this call no id: the one the gateway made for it is not sent to Gemini.
    assert "id" not in call_part["functionCall"]


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
def test_gemini_gets_the_call_ids_it_gave_back(stack: Stack, stream: bool) -> None:
    """Gemini 3 gives each function call an id and asks for it back on the call and its
    result; an id it did not give (another vendor's) is not sent to it."""
    arm(stack, "ge")
    stack.gemini_fake.issue_call_ids = True
    client = stack.openai()
    user = {"role": "user", "content": QUESTION}
    call_id = ask_gemini_for_a_call(stack, stream)
    assert call_id.startswith("fc_fake")  # Gemini's own id, passed to the client
    foreign = "call_from_another_vendor"
    calls = [
        {"id": i, "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
        for i in (call_id, foreign)
    ]
    results = [{"role": "tool", "tool_call_id": i, "content": RESULT} for i in (call_id, foreign)]
    client.chat.completions.create(
        model="ge",
        messages=[user, {"role": "assistant", "tool_calls": calls}, *results],
        tools=OPENAI_TOOLS,
    )
    model_turn, results_turn = stack.gemini_fake.last_request.body["contents"][1:3]
    sent_calls = [p["functionCall"] for p in model_turn["parts"]]
    assert [c.get("id") for c in sent_calls] == [call_id, None]
    sent_results = [p["functionResponse"] for p in results_turn["parts"]]
    assert [r.get("id") for r in sent_results] == [call_id, None]


def test_gemini_rejects_a_result_without_its_call(stack: Stack) -> None:
    import openai

    with pytest.raises(openai.BadRequestError) as caught:
        stack.openai().chat.completions.create(
            model="ge",
            messages=[
                {"role": "user", "content": QUESTION},
                {"role": "tool", "tool_call_id": "call_nowhere", "content": RESULT},
            ],
        )
    assert "call_nowhere" in caught.value.message
    assert stack.gemini_fake.request_count() == 0


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_a_gemini_turn_without_the_tool_call_it_began_is_retried(
    make_stack: StackFactory, stream: bool
) -> None:
    """MALFORMED_FUNCTION_CALL comes as a 200 with no call: passed on as a stop, the agent
    would end its loop on nothing. It is a failed attempt, and the retry's call arrives."""
    stack = make_stack(max_retries=1)
    arm(stack, "ge")
    failed = {
        "candidates": [{"finishReason": "MALFORMED_FUNCTION_CALL", "index": 0}],
        "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12},
    }
    body = json.dumps(failed).encode()
    stack.gemini_fake.enqueue(
        RawResponse(
            status=200, body=b"data: " + body + b"\r\n\r\n", content_type="text/event-stream"
        )
        if stream
        else RawResponse(status=200, body=body)
    )
    answer = stack.openai().chat.completions.create(
        model="ge",
        messages=[{"role": "user", "content": QUESTION}],
        tools=OPENAI_TOOLS,
        stream=stream,
    )
    if stream:
        chunks = list(answer)
        calls = [
            c for chunk in chunks if chunk.choices for c in chunk.choices[0].delta.tool_calls or []
        ]
        finish = [
            chunk.choices[0].finish_reason
            for chunk in chunks
            if chunk.choices and chunk.choices[0].finish_reason
        ]
        assert calls[0].function.name == "get_weather" and finish == ["tool_calls"]
    else:
        message = answer.choices[0].message
        assert (
            message.tool_calls is not None and message.tool_calls[0].function.name == "get_weather"
        )
        assert answer.choices[0].finish_reason == "tool_calls"
    assert stack.gemini_fake.request_count() == 2


def test_a_gemini_turn_without_its_tool_call_is_an_error_once_retries_are_spent(
    stack: Stack,
) -> None:
    arm(stack, "ge")
    failed = {"candidates": [{"finishReason": "UNEXPECTED_TOOL_CALL", "index": 0}]}
    stack.gemini_fake.enqueue(RawResponse(status=200, body=json.dumps(failed).encode()))
    with pytest.raises(openai.APIStatusError) as caught:
        stack.openai().chat.completions.create(
            model="ge", messages=[{"role": "user", "content": QUESTION}], tools=OPENAI_TOOLS
        )
    assert caught.value.status_code == 502
    assert "without the tool call it began (UNEXPECTED_TOOL_CALL)" in str(caught.value)


def openai_tool_stream(*fragments: str) -> bytes:
    """An OpenAI stream of one tool call whose arguments arrive in `fragments`."""
    head = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test"}
    chunks: list[dict[str, Any]] = []
    for number, fragment in enumerate(fragments):
        call: dict[str, Any] = {"index": 0, "function": {"arguments": fragment}}
        if number == 0:
            call.update(id="call_1", type="function")
            call["function"]["name"] = "get_weather"
        chunks.append({**head, "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]})
    chunks.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    return b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"


@pytest.mark.parametrize(
    ("fragments", "expected"),
    [
        (['{"city": ', '"Paris"}'], {"city": "Paris"}),
        # What a model sometimes writes without strict mode: the Anthropic SDK, which
        # parses the input as it streams, used to raise on it and lose the whole answer.
        (['{"city": "Paris"', ", }}"], {}),
        (["\u0000"], {}),
    ],
)
def test_streamed_openai_tool_arguments_reach_an_anthropic_sdk_as_a_json_object(
    stack: Stack, fragments: list[str], expected: dict[str, Any]
) -> None:
    stack.openai_fake.enqueue(
        RawResponse(
            status=200, body=openai_tool_stream(*fragments), content_type="text/event-stream"
        )
    )
    with stack.anthropic().messages.stream(
        model="oa", max_tokens=100, messages=[{"role": "user", "content": QUESTION}]
    ) as stream:
        message = stream.get_final_message()
    [use] = [block for block in message.content if block.type == "tool_use"]
    assert use.name == "get_weather" and use.input == expected
    assert message.stop_reason == "tool_use"
