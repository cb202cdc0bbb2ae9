"""A model that refuses a sampling setting (OpenAI's reasoning models and `temperature`,
Claude Opus 4.7 and any of them): the request is sent again without it, the client is
served and told in `x-switchpoint-dropped-params`, and later requests go without it at
once. A refusal of anything else is the model's limit: the chain's next model serves
the call, or without one the client gets the vendor's 400."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from tests.e2e.conftest import (
    MODELS,
    Stack,
    StackFactory,
    add_responses_profile,
    without_ledger,
)
from tests.fakes import RawResponse
from tests.observability.stack import value, wait_for

HEADER = "x-switchpoint-dropped-params"
DROPPED_METRIC = "switchpoint_sampling_settings_dropped_total"
QUESTION = [{"role": "user", "content": "What is the weather like in Paris today"}]
RESPONSES_MODEL = "gpt-rs-test"


def reasoning_stack(make_stack: StackFactory) -> Stack:
    """The e2e stack, its OpenAI model refusing sampling settings as reasoning models do,
    and a profile `rs` for a model served over the Responses API that refuses them too."""

    def edit(document: dict[str, Any]) -> None:
        without_ledger(document)
        add_responses_profile(document, "rs", RESPONSES_MODEL)

    stack = make_stack(edit=edit)
    stack.openai_fake.reasoning_models = frozenset({MODELS["oa"], RESPONSES_MODEL})
    return stack


@pytest.fixture
def stack(make_stack: StackFactory) -> Stack:
    return reasoning_stack(make_stack)


def sent_bodies(stack: Stack) -> list[dict[str, Any]]:
    return [request.body for request in stack.openai_fake.requests]


def chat_create(stack: Stack, stream: bool, **settings: Any) -> tuple[str, dict[str, str]]:
    """The answer's text and headers, for an OpenAI chat client with `settings`."""
    client = stack.openai()
    if not stream:
        raw = client.chat.completions.with_raw_response.create(
            model="oa", messages=QUESTION, **settings
        )
        text = raw.parse().choices[0].message.content or ""
        return text, dict(raw.headers)
    with client.chat.completions.with_streaming_response.create(
        model="oa", messages=QUESTION, stream=True, **settings
    ) as response:
        text = "".join(
            chunk.choices[0].delta.content or "" for chunk in response.parse() if chunk.choices
        )
        return text, dict(response.headers)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_refused_temperature_is_dropped_and_the_client_told(stack: Stack, stream: bool) -> None:
    text, headers = chat_create(stack, stream, temperature=0.2)
    assert text  # served: an answer, not the vendor's 400
    assert headers[HEADER] == "temperature"
    first, second = sent_bodies(stack)
    assert first["temperature"] == 0.2
    assert "temperature" not in second
    # The rest of what the client asked for is sent as it was.
    assert second["messages"] == first["messages"]
    [call] = stack.recorder.calls
    assert call.status == "ok" and call.upstream_attempts == 1
    assert call.served is not None and call.served.dropped_params == ("temperature",)
    assert '"dropped_params":["temperature"]' in stack.recorder.logged()

    # Remembered: the next request goes without it at once, and says so too.
    stack.openai_fake.clear()
    _, headers = chat_create(stack, stream, temperature=0.7)
    assert headers[HEADER] == "temperature"
    [only] = sent_bodies(stack)
    assert "temperature" not in only
    # Counted for operators, per model and settings left out.
    samples = wait_for(
        stack.server,
        DROPPED_METRIC,
        2,
        provider="openai",
        model=MODELS["oa"],
        settings="temperature",
    )
    assert (
        value(
            samples, DROPPED_METRIC, provider="openai", model=MODELS["oa"], settings="temperature"
        )
        == 2
    )


def test_several_refused_settings_are_all_dropped(stack: Stack) -> None:
    _, headers = chat_create(stack, False, temperature=0, top_p=0.5, presence_penalty=0.1)
    assert headers[HEADER] == "presence_penalty,temperature,top_p"
    bodies = sent_bodies(stack)
    assert len(bodies) == 4  # each refusal names one setting
    assert not {"temperature", "top_p", "presence_penalty"} & set(bodies[-1])


def test_accepted_settings_are_kept_and_nothing_is_said(stack: Stack) -> None:
    _, headers = chat_create(stack, False, temperature=1)
    assert HEADER not in headers
    [only] = sent_bodies(stack)
    assert only["temperature"] == 1


def test_a_model_that_takes_the_setting_keeps_it(make_stack: StackFactory) -> None:
    stack = reasoning_stack(make_stack)
    stack.openai_fake.reasoning_models = frozenset()
    _, headers = chat_create(stack, False, temperature=0.2)
    assert HEADER not in headers
    [only] = sent_bodies(stack)
    assert only["temperature"] == 0.2


def test_anthropic_client_routed_to_a_reasoning_model(stack: Stack) -> None:
    # An Anthropic client set `temperature` for Claude; the gateway chose GPT.
    raw = stack.anthropic().messages.with_raw_response.create(
        model="oa", max_tokens=100, messages=QUESTION, extra_body={"temperature": 0.0}
    )
    message = raw.parse()
    assert message.content and message.stop_reason == "end_turn"
    assert raw.headers[HEADER] == "temperature"
    assert "temperature" not in sent_bodies(stack)[-1]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_responses_provider_drops_it_too(stack: Stack, stream: bool) -> None:
    client = stack.openai()
    if stream:
        with client.chat.completions.with_streaming_response.create(
            model="rs", messages=QUESTION, temperature=0.3, stream=True
        ) as response:
            assert any(chunk.choices for chunk in response.parse())
            headers = response.headers
    else:
        raw = client.chat.completions.with_raw_response.create(
            model="rs", messages=QUESTION, temperature=0.3
        )
        assert raw.parse().choices[0].message.content
        headers = raw.headers
    assert headers[HEADER] == "temperature"
    first, second = sent_bodies(stack)
    assert first["temperature"] == 0.3 and "temperature" not in second


def test_responses_client_forwarded_as_sent_drops_it(stack: Stack) -> None:
    raw = stack.openai().responses.with_raw_response.create(
        model="rs", input="Weather in Paris?", top_p=0.9
    )
    assert raw.parse().output_text
    assert raw.headers[HEADER] == "top_p"
    assert "top_p" not in sent_bodies(stack)[-1]


def test_other_refusals_reach_the_client(stack: Stack) -> None:
    # A refusal of something that shapes the answer is not "fixed" by leaving it out.
    stack.openai_fake.enqueue(
        RawResponse(
            status=400,
            body=(
                b'{"error":{"message":"Unsupported parameter: \'logprobs\' is not supported'
                b' with this model.","type":"invalid_request_error","param":"logprobs",'
                b'"code":"unsupported_parameter"}}'
            ),
        )
    )
    with pytest.raises(openai.BadRequestError) as raised:
        stack.openai().chat.completions.create(model="oa", messages=QUESTION, logprobs=True)
    assert "logprobs" in str(raised.value)
    assert len(sent_bodies(stack)) == 1


def test_a_vendor_that_keeps_refusing_is_not_asked_forever(stack: Stack) -> None:
    # A vendor that names the setting again though it was left out (a bug of its own):
    # the refusal reaches the client after a bounded number of sends.
    refusal = RawResponse(
        status=400,
        body=(
            b'{"error":{"message":"Unsupported value: \'temperature\' does not support 0.2'
            b' with this model.","type":"invalid_request_error","param":"temperature",'
            b'"code":"unsupported_value"}}'
        ),
    )
    for _ in range(10):
        stack.openai_fake.enqueue(refusal)
    with pytest.raises(anthropic.BadRequestError):
        stack.anthropic().messages.create(
            model="oa", max_tokens=100, messages=QUESTION, extra_body={"temperature": 0.2}
        )
    assert 2 <= len(sent_bodies(stack)) <= 6


def test_a_model_refusing_what_shapes_the_answer_hands_it_down_the_chain(
    make_stack: StackFactory,
) -> None:
    # Stop sequences are not dropped (the answer would run past them): the model that
    # refuses them cannot serve the call, and the chain's next one, which can, does.
    stack = make_stack(fallback=True, oa_fallbacks=["an"], edit=without_ledger)
    stack.openai_fake.enqueue(
        RawResponse(
            status=400,
            body=(
                b'{"error":{"message":"Unsupported parameter: \'stop\' is not supported with'
                b' this model.","type":"invalid_request_error","param":"stop",'
                b'"code":"unsupported_parameter"}}'
            ),
        )
    )
    raw = stack.openai().chat.completions.with_raw_response.create(
        model="oa", messages=QUESTION, stop=["\n\n"]
    )
    assert raw.parse().choices[0].message.content
    assert raw.headers["x-switchpoint-model"] == MODELS["an"]
    assert raw.headers["x-switchpoint-fallback-reasons"] == "unsupported"
    assert stack.anthropic_fake.last_request.body["stop_sequences"] == ["\n\n"]
    # Not the provider's failure: its breaker is not told.
    [call] = stack.recorder.calls
    assert [attempt.outcome for attempt in call.attempts] == ["unsupported", "ok"]


# --- Anthropic ----------------------------------------------------------------------------
def anthropic_create(stack: Stack, stream: bool, **settings: Any) -> tuple[str, dict[str, str]]:
    """The answer's text and headers, for an Anthropic client sending `settings`."""
    client = stack.anthropic()
    arguments: dict[str, Any] = {
        "model": "an",
        "max_tokens": 100,
        "messages": QUESTION,
        "extra_body": settings,
    }
    if not stream:
        raw = client.messages.with_raw_response.create(**arguments)
        message = raw.parse()
        return "".join(b.text for b in message.content if b.type == "text"), dict(raw.headers)
    with client.messages.with_streaming_response.create(stream=True, **arguments) as response:
        text = "".join(
            event.delta.text
            for event in response.parse()
            if event.type == "content_block_delta" and event.delta.type == "text_delta"
        )
        return text, dict(response.headers)


def anthropic_bodies(stack: Stack) -> list[dict[str, Any]]:
    return [request.body for request in stack.anthropic_fake.requests]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_a_claude_model_without_sampling_settings(make_stack: StackFactory, stream: bool) -> None:
    # Claude Opus 4.7 and later: "'temperature' is deprecated for this model."
    stack = make_stack(edit=without_ledger)
    stack.anthropic_fake.sampling_free_models = frozenset({MODELS["an"]})
    text, headers = anthropic_create(stack, stream, temperature=0.0, top_k=40)
    assert text
    assert headers[HEADER] == "temperature,top_k"
    bodies = anthropic_bodies(stack)
    assert len(bodies) == 3 and bodies[0]["temperature"] == 0.0
    assert not {"temperature", "top_k"} & set(bodies[-1])

    stack.anthropic_fake.clear()
    _, headers = anthropic_create(stack, stream, temperature=0.5)
    assert headers[HEADER] == "temperature"
    assert len(anthropic_bodies(stack)) == 1


def test_a_claude_model_taking_one_of_temperature_and_top_p(make_stack: StackFactory) -> None:
    # Claude Sonnet 4.5 and later: "`temperature` and `top_p` cannot both be specified".
    stack = make_stack(edit=without_ledger)
    stack.anthropic_fake.exclusive_sampling_models = frozenset({MODELS["an"]})
    text, headers = anthropic_create(stack, False, temperature=0.3, top_p=0.9)
    assert text
    assert headers[HEADER] == "top_p"
    first, second = anthropic_bodies(stack)
    assert first["top_p"] == 0.9
    assert second["temperature"] == 0.3 and "top_p" not in second
    # A request with only one of them is sent as it is, even now.
    stack.anthropic_fake.clear()
    _, headers = anthropic_create(stack, False, top_p=0.5)
    assert HEADER not in headers
    [only] = anthropic_bodies(stack)
    assert only["top_p"] == 0.5
