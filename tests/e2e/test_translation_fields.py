"""What happens to the fields one protocol has and another lacks, between clients and
vendors: answer shapes (JSON output, several choices, log-probabilities), refusals,
reasoning token counts, prefills, sampling fields, stop sequences, and the quirks of
OpenAI's chat API (tool choice, images in tool results, text parts)."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest

from tests.e2e.conftest import CLIENT_KEY, HTTP, MODELS, Stack, StackFactory
from tests.e2e.test_translation import QUESTION


def anthropic_message(stack: Stack, profile: str, stream: bool) -> Any:
    """The question's answer as an Anthropic client gets it, streamed or whole."""
    request: dict[str, Any] = {
        "model": profile,
        "max_tokens": 50,
        "messages": [{"role": "user", "content": QUESTION}],
    }
    if not stream:
        return stack.anthropic().messages.create(**request)
    with stack.anthropic().messages.stream(**request) as events:
        return events.get_final_message()


def test_gemini_thinking_tokens_count_as_output(stack: Stack) -> None:
    fake = stack.gemini_fake
    fake.output_tokens, fake.reasoning_tokens = 5, 12
    completion = stack.openai().chat.completions.create(
        model="ge", messages=[{"role": "user", "content": QUESTION}]
    )
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 17
    # ... of which the thinking, as OpenAI reports it.
    assert completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == 12


@pytest.mark.parametrize("profile", ["ge", "oa", "an"])
def test_reasoning_tokens_are_reported_when_the_vendor_says(stack: Stack, profile: str) -> None:
    fake = stack.fake(profile)
    fake.output_tokens, fake.reasoning_tokens = 5, 12
    chunks = list(
        stack.openai().chat.completions.create(
            model=profile,
            messages=[{"role": "user", "content": QUESTION}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens == 17
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 12
    if profile == "oa":
        return  # OpenAI always says, 0 included
    # A vendor that does not say how much of its output was thinking: not reported as 0.
    fake.reasoning_tokens = 0
    answer = stack.openai().chat.completions.create(
        model=profile, messages=[{"role": "user", "content": QUESTION}]
    )
    assert answer.usage is not None and answer.usage.completion_tokens_details is None


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_claudes_thinking_tokens_reach_an_anthropic_client(stack: Stack, stream: bool) -> None:
    """Re-encoded streams (and other vendors' answers) dropped them."""
    stack.anthropic_fake.output_tokens, stack.anthropic_fake.reasoning_tokens = 5, 12
    message = anthropic_message(stack, "an", stream)
    assert message.usage.output_tokens == 17
    assert message.usage.output_tokens_details is not None
    assert message.usage.output_tokens_details.thinking_tokens == 12


def test_refusals_keep_their_meaning(stack: Stack) -> None:
    from tests.fakes import Refusal

    stack.anthropic_fake.enqueue(Refusal())
    completion = stack.openai().chat.completions.create(
        model="an", messages=[{"role": "user", "content": QUESTION}]
    )
    assert completion.choices[0].finish_reason == "content_filter"
    stack.gemini_fake.enqueue(Refusal())
    message = stack.anthropic().messages.create(
        model="ge", max_tokens=50, messages=[{"role": "user", "content": QUESTION}]
    )
    assert message.stop_reason == "refusal"
    assert message.content == []


SHAPE_FIELDS = [
    ({"n": 3}, "'n' = 3 (several choices)"),
    ({"logprobs": True, "top_logprobs": 2}, "'logprobs'"),
    (
        {"response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {}}}},
        "'response_format' json_schema",
    ),
]


REFUSED = [
    (profile, fields, named)
    for profile in ("an", "ge")
    for fields, named in SHAPE_FIELDS
    # Gemini's request has JSON output (`responseMimeType`, `responseJsonSchema`).
    if not (profile == "ge" and "response_format" in fields)
]


@pytest.mark.parametrize(("profile", "fields", "named"), REFUSED)
def test_an_answer_shape_another_vendor_cannot_give_is_refused_not_dropped(
    stack: Stack, profile: str, fields: dict[str, Any], named: str
) -> None:
    fake = stack.fake(profile)
    before = len(fake.requests)
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError) as caught:
            stack.openai().chat.completions.create(
                model=profile,
                messages=[{"role": "user", "content": QUESTION}],
                stream=stream,
                **fields,
            )
        if stream and "n" in fields:
            # Refused at the door for every target (test_bad_input).
            assert "cannot be streamed" in str(caught.value)
            continue
        assert named in str(caught.value)
        assert MODELS[profile] in str(caught.value)
    assert len(fake.requests) == before  # never sent


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_a_target_that_cannot_give_the_answer_shape_passes_to_one_that_can(
    make_stack: StackFactory, stream: bool
) -> None:
    """Nothing is sent to the target that cannot honour `logprobs`: the chain moves on to
    one that can (no retry, no breaker penalty), and says so."""
    stack = make_stack(fallback=True, an_fallbacks=["oa"])
    client = stack.openai()
    with client.chat.completions.with_streaming_response.create(
        model="an",
        messages=[{"role": "user", "content": QUESTION}],
        logprobs=True,
        stream=stream,
    ) as raw:
        assert raw.headers["x-switchpoint-provider"] == "openai"
        assert raw.headers["x-switchpoint-fallback"] == "true"
        assert "unsupported" in raw.headers["x-switchpoint-fallback-reasons"]
        raw.read()
    assert stack.anthropic_fake.request_count() == 0
    assert stack.openai_fake.last_request.body["logprobs"] is True
    # Not the target's fault: a dozen such calls leave its breaker closed (it opens on
    # 15% failures over 10 calls).
    for _ in range(12):
        client.chat.completions.create(
            model="an", messages=[{"role": "user", "content": QUESTION}], logprobs=True
        )
    gateway = stack.server.gateway
    assert gateway is not None
    assert gateway.executor.breakers.state(("anthropic", MODELS["an"])) == "closed"


def test_the_same_fields_reach_a_server_of_openais_protocol(stack: Stack) -> None:
    for fields, _ in SHAPE_FIELDS:
        stack.openai().chat.completions.create(
            model="oa", messages=[{"role": "user", "content": QUESTION}], **fields
        )
        body = stack.openai_fake.last_request.body
        assert all(body[key] == value for key, value in fields.items())
    # Their harmless values are no reason to refuse anyone.
    stack.openai().chat.completions.create(
        model="an",
        n=1,
        logprobs=False,
        response_format={"type": "text"},
        messages=[{"role": "user", "content": QUESTION}],
    )
    assert stack.anthropic_fake.last_request.body["messages"]


def test_json_output_is_translated_for_gemini(stack: Stack) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    stack.openai().chat.completions.create(
        model="ge",
        messages=[{"role": "user", "content": QUESTION}],
        response_format={"type": "json_schema", "json_schema": {"name": "place", "schema": schema}},
    )
    config = stack.gemini_fake.last_request.body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == schema
    stack.openai().chat.completions.create(
        model="ge",
        messages=[{"role": "user", "content": QUESTION}],
        response_format={"type": "json_object"},
    )
    config = stack.gemini_fake.last_request.body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert "responseJsonSchema" not in config and "responseSchema" not in config


def test_a_malformed_response_format_for_another_vendor_is_a_400(stack: Stack) -> None:
    for response_format, words in (
        ({"type": "xml"}, "'response_format.type'"),
        ({"type": "json_schema"}, "'response_format.json_schema'"),
        ({"type": "json_schema", "json_schema": {"name": 3}}, "'response_format.json_schema.name'"),
        (
            {"type": "json_schema", "json_schema": {"schema": []}},
            "'response_format.json_schema.schema'",
        ),
        ("json", "'response_format'"),
    ):
        response = HTTP.post(
            f"{stack.base_url}/v1/chat/completions",
            json={
                "model": "ge",
                "messages": [{"role": "user", "content": QUESTION}],
                "response_format": response_format,
            },
            headers={"authorization": f"Bearer {CLIENT_KEY}"},
            timeout=30,
        )
        assert response.status_code == 400, response.text
        assert words in response.json()["error"]["message"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_an_anthropic_refusal_keeps_its_details_for_an_anthropic_client(
    stack: Stack, stream: bool
) -> None:
    """Claude says why it refused in `stop_details`: a streamed answer is re-encoded, and
    lost them."""
    from tests.fakes import Refusal
    from tests.fakes.anthropic_fake import REFUSAL_DETAILS

    stack.anthropic_fake.enqueue(Refusal())
    message = anthropic_message(stack, "an", stream)
    assert message.stop_reason == "refusal"
    assert message.stop_details is not None
    assert message.stop_details.model_dump() == REFUSAL_DETAILS


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_an_openai_refusal_reaches_other_clients_as_theirs(stack: Stack, stream: bool) -> None:
    # OpenAI says why it refused in `refusal`, apart from the content, and ends with
    # "stop": an Anthropic client gets the text and its own refusal stop, not an empty
    # answer that looks complete.
    from tests.fakes import Refusal
    from tests.fakes.reply import REFUSAL_TEXT

    stack.openai_fake.enqueue(Refusal())
    message = anthropic_message(stack, "oa", stream)
    assert message.stop_reason == "refusal"
    assert "".join(b.text for b in message.content if b.type == "text") == REFUSAL_TEXT


def test_an_openai_client_streamed_from_openai_sees_the_refusal(stack: Stack) -> None:
    """As OpenAI streams it: in `delta.refusal`, not the content, and a `stop`."""
    from tests.fakes import Refusal
    from tests.fakes.reply import REFUSAL_TEXT

    stack.openai_fake.enqueue(Refusal())
    chunks = list(
        stack.openai().chat.completions.create(
            model="oa", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    refusal = "".join(c.choices[0].delta.refusal or "" for c in chunks if c.choices)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
    assert (text, refusal, finish) == ("", REFUSAL_TEXT, "stop")


def test_the_sdks_structured_output_stream_gets_the_refusal(stack: Stack) -> None:
    """The SDK's `stream(response_format=Model)` parses the content as the model: a
    refusal sent as content made it raise instead of returning `message.refusal`."""
    from pydantic import BaseModel

    from tests.fakes import Refusal
    from tests.fakes.reply import REFUSAL_TEXT

    class Weather(BaseModel):
        city: str

    stack.openai_fake.enqueue(Refusal())
    with stack.openai().chat.completions.stream(
        model="oa", messages=[{"role": "user", "content": QUESTION}], response_format=Weather
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.refusal == REFUSAL_TEXT and message.parsed is None
    assert final.choices[0].finish_reason == "stop"


def test_a_tool_choice_without_tools_is_not_sent_to_openai(stack: Stack) -> None:
    # Chat Completions refuses `tool_choice` without `tools`; Anthropic accepts it.
    stack.anthropic().messages.create(
        model="oa",
        max_tokens=50,
        tool_choice={"type": "auto"},
        messages=[{"role": "user", "content": QUESTION}],
    )
    sent = stack.openai_fake.last_request.body
    assert "tool_choice" not in sent and "tools" not in sent


def test_images_a_tool_returned_reach_openai_after_the_results(stack: Stack) -> None:
    # A tool message holds text only: the images follow in the user turn, not dropped.
    pixel = (
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4"
        "nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
    )
    stack.anthropic().messages.create(
        model="oa",
        max_tokens=50,
        tools=[{"name": "shot", "input_schema": {"type": "object"}}],
        messages=[
            {"role": "user", "content": "take a screenshot"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "shot", "input": {}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [
                            {"type": "text", "text": "here it is"},
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/png",
                                    "data": pixel,
                                },
                            },
                        ],
                    },
                    {"type": "text", "text": "what do you see?"},
                ],
            },
        ],
    )
    messages = stack.openai_fake.last_request.body["messages"]
    assert messages[-2] == {"role": "tool", "tool_call_id": "toolu_1", "content": "here it is"}
    last = messages[-1]
    assert last["role"] == "user"
    assert [p["type"] for p in last["content"]] == ["text", "image_url", "text"]
    assert "toolu_1" in last["content"][0]["text"]
    assert last["content"][1]["image_url"]["url"] == f"data:image/png;base64,{pixel}"
    assert last["content"][2]["text"] == "what do you see?"


def test_separate_text_blocks_stay_separate_for_openai(stack: Stack) -> None:
    # Joined, "First paragraph." and "Second paragraph." would run into each other.
    stack.anthropic().messages.create(
        model="oa",
        max_tokens=50,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "First paragraph."},
                    {"type": "text", "text": "Second paragraph."},
                ],
            },
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "A1."}, {"type": "text", "text": "A2."}],
            },
            {"role": "user", "content": "go on"},
        ],
    )
    messages = stack.openai_fake.last_request.body["messages"]
    assert messages[0]["content"] == [
        {"type": "text", "text": "First paragraph."},
        {"type": "text", "text": "Second paragraph."},
    ]
    assert messages[1]["content"] == [
        {"type": "text", "text": "A1."},
        {"type": "text", "text": "A2."},
    ]
    assert messages[2]["content"] == "go on"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_an_anthropic_prefill_is_not_repeated_by_a_model_that_answers_anew(
    stack: Stack, stream: bool
) -> None:
    # The client appends the answer to its prefill: OpenAI starts over with it, so the
    # repeat is cut ({"a": 1}, not {{"a": 1}); Gemini continues it (as its fake does),
    # so nothing is cut. Either way the client ends up with {"a": 1}.
    request: dict[str, Any] = {
        "max_tokens": 50,
        "messages": [
            {"role": "user", "content": "give me JSON"},
            {"role": "assistant", "content": "{"},
        ],
    }
    for profile in ("oa", "ge"):
        stack.fake(profile).reply_text = '{"a": 1}'
        if stream:
            with stack.anthropic().messages.stream(model=profile, **request) as events:
                message = events.get_final_message()
        else:
            message = stack.anthropic().messages.create(model=profile, **request)
        text = "".join(b.text for b in message.content if b.type == "text")
        assert "{" + text == '{"a": 1}', profile
    # An OpenAI client's trailing assistant turn is an earlier answer, not a prefill.
    completion = stack.openai().chat.completions.create(
        model="oa",
        messages=[
            {"role": "user", "content": "give me JSON"},
            {"role": "assistant", "content": "{"},
        ],
    )
    assert completion.choices[0].message.content == '{"a": 1}'


def test_sampling_fields_gemini_has_reach_it(stack: Stack) -> None:
    # The internal shape has no seed, penalties or top_k; Gemini's generationConfig does.
    stack.openai().chat.completions.create(
        model="ge",
        messages=[{"role": "user", "content": QUESTION}],
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=0.25,
    )
    config = stack.gemini_fake.last_request.body["generationConfig"]
    assert (config["seed"], config["presencePenalty"], config["frequencyPenalty"]) == (7, 0.5, 0.25)
    stack.anthropic().messages.create(
        model="ge",
        max_tokens=50,
        messages=[{"role": "user", "content": QUESTION}],
        extra_body={"top_k": 5},
    )
    assert stack.gemini_fake.last_request.body["generationConfig"]["topK"] == 5


def test_more_stop_sequences_than_a_vendor_takes_move_on_or_are_a_400(
    make_stack: StackFactory,
) -> None:
    # Anthropic's clients may send any number; OpenAI takes 4, Gemini 5. Sent anyway,
    # the vendor's 400 would end the call: refused for that target, the chain moves on.
    request: dict[str, Any] = {
        "max_tokens": 50,
        "messages": [{"role": "user", "content": QUESTION}],
        "stop_sequences": ["A", "B", "C", "D", "E", "F"],
    }
    alone = make_stack()
    for profile, vendor, limit in (("oa", "OpenAI", 4), ("ge", "Gemini", 5)):
        with pytest.raises(anthropic.BadRequestError) as caught:
            alone.anthropic().messages.create(model=profile, **request)
        assert f"{vendor} takes at most {limit} stop sequences" in str(caught.value)
    assert alone.openai_fake.requests == [] and alone.gemini_fake.requests == []
    chained = make_stack(fallback=True, oa_fallbacks=("an",))
    message = chained.anthropic().messages.create(model="oa", **request)
    assert message.content[0].type == "text"
    assert chained.openai_fake.requests == []
    assert chained.anthropic_fake.last_request.body["stop_sequences"] == request["stop_sequences"]


def _openai_stream(*deltas: dict[str, Any], finish: str) -> Any:
    from tests.fakes import RawResponse
    from tests.fakes.raw_streams import openai_chunk, sse_body

    usage = {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}
    events = [openai_chunk(d) for d in deltas] + [openai_chunk({}, finish)]
    events.append({**openai_chunk({}), "choices": [], "usage": usage})
    body = sse_body(events) + b"data: [DONE]\n\n"
    return RawResponse(status=200, body=body, content_type="text/event-stream")


def test_a_legacy_function_call_streams_to_an_openai_client(stack: Stack) -> None:
    """A client of the deprecated `functions` parameter: OpenAI streams `function_call`
    deltas and ends with `function_call`; they were dropped, and the answer ended with
    `tool_calls` and no call at all."""
    stack.openai_fake.enqueue(
        _openai_stream(
            {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": ""}},
            {"function_call": {"arguments": '{"a":'}},
            {"function_call": {"arguments": " 1}"}},
            finish="function_call",
        )
    )
    chunks = list(
        stack.openai().chat.completions.create(
            model="oa",
            messages=[{"role": "user", "content": QUESTION}],
            functions=[{"name": "f", "parameters": {"type": "object"}}],
            stream=True,
        )
    )
    calls = [c.choices[0].delta.function_call for c in chunks if c.choices]
    arguments = "".join(call.arguments or "" for call in calls if call is not None)
    assert [call.name for call in calls if call is not None and call.name] == ["f"]
    assert json.loads(arguments) == {"a": 1}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "function_call"


def test_spoken_audio_streams_to_an_openai_client(stack: Stack) -> None:
    stack.openai_fake.enqueue(
        _openai_stream(
            {"role": "assistant", "content": None, "audio": {"id": "audio_1", "transcript": "Hi"}},
            {"audio": {"data": "UklGRg=="}},
            finish="stop",
        )
    )
    raw = HTTP.post(
        f"{stack.base_url}/v1/chat/completions",
        json={
            "model": "oa",
            "messages": [{"role": "user", "content": QUESTION}],
            "modalities": ["text", "audio"],
            "audio": {"voice": "alloy", "format": "pcm16"},
            "stream": True,
        },
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
    )
    deltas = [
        json.loads(line[6:])["choices"][0]["delta"]
        for line in raw.text.splitlines()
        if line.startswith("data: {") and '"choices":[{' in line
    ]
    audio = [d["audio"] for d in deltas if "audio" in d]
    assert audio == [{"id": "audio_1", "transcript": "Hi"}, {"data": "UklGRg=="}]
