"""An Anthropic client's stream states the request's input tokens in `message_start`, where
the Anthropic SDK and Claude Code read them, whichever vendor serves it. OpenAI's and
Gemini's streams give their count only at the end: until then the gateway's own count
(the one it routed by) stands in, and `message_delta` carries the vendor's figures, which
the SDK's final message keeps. `message_start` said `input_tokens: 0` for them."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Stack

QUESTION = "Summarise the plot of a long novel about a whale, a captain and his crew. " * 20
VENDOR_INPUT, VENDOR_CACHED = 4321, 21


@pytest.mark.parametrize("profile", ["oa", "ge"])
def test_message_start_has_the_gateways_count_until_the_vendor_gives_its_own(
    stack: Stack, profile: str
) -> None:
    fake = stack.fake(profile)
    fake.input_tokens, fake.cached_tokens, fake.output_tokens = VENDOR_INPUT, VENDOR_CACHED, 4
    fake.reply_text = "one two three four"
    fake.stream_chunks = 4
    client = stack.anthropic()
    messages = [{"role": "user", "content": QUESTION}]
    events = list(
        client.messages.create(model=profile, max_tokens=200, messages=messages, stream=True)
    )
    [call] = stack.recorder.calls
    counted = call.context_tokens_after
    assert counted > 100  # the gateway's count of this request, far from the vendor's
    start, delta = events[0], events[-2]
    assert start.type == "message_start" and delta.type == "message_delta"
    assert start.message.usage.input_tokens == counted
    assert start.message.usage.output_tokens == 0
    # The end states the vendor's own figures (cumulative, as Anthropic sends them).
    assert delta.usage.input_tokens == VENDOR_INPUT - VENDOR_CACHED
    assert delta.usage.cache_read_input_tokens == VENDOR_CACHED
    assert delta.usage.output_tokens == 4

    with client.messages.stream(model=profile, max_tokens=200, messages=messages) as stream:
        final = stream.get_final_message()
    assert final.usage.input_tokens == VENDOR_INPUT - VENDOR_CACHED
    assert final.usage.cache_read_input_tokens == VENDOR_CACHED
    assert final.usage.output_tokens == 4


def test_anthropics_own_count_is_kept_in_message_start(stack: Stack) -> None:
    fake = stack.anthropic_fake
    fake.input_tokens, fake.cached_tokens, fake.output_tokens = VENDOR_INPUT, VENDOR_CACHED, 4
    events = list(
        stack.anthropic().messages.create(
            model="an",
            max_tokens=200,
            messages=[{"role": "user", "content": QUESTION}],
            stream=True,
        )
    )
    start = events[0]
    assert start.type == "message_start"
    assert start.message.usage.input_tokens == VENDOR_INPUT - VENDOR_CACHED
    assert start.message.usage.cache_read_input_tokens == VENDOR_CACHED
