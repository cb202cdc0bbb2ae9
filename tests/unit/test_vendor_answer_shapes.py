"""What the vendors' answers are read as when a field has the wrong type: a count that
is not one leaves the usage unknown (to be estimated), a call without its parts is not
an answer, text that is not text is not passed on."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchpoint.chat.stream import TextDelta
from switchpoint.chat.usage import Usage
from switchpoint.protocols.anthropic.response import decode_usage as anthropic_usage
from switchpoint.protocols.anthropic.stream import StreamDecoder as AnthropicStream
from switchpoint.protocols.gemini.response import decode_usage as gemini_usage
from switchpoint.protocols.openai.response import MalformedResponse, decode_response
from switchpoint.protocols.openai.response import decode_usage as openai_usage
from switchpoint.protocols.openai.stream import StreamDecoder as OpenAIStream
from switchpoint.protocols.token_counts import MAX_TOKEN_COUNT, token_count
from switchpoint.transport.sse import SSEEvent


@pytest.mark.parametrize(
    ("value", "count"),
    [
        (0, 0),
        (12, 12),
        (12.0, 12),
        (MAX_TOKEN_COUNT, MAX_TOKEN_COUNT),
        (MAX_TOKEN_COUNT + 1, None),
        (2**70, None),
        (-1, None),
        (1.5, None),
        (float("nan"), None),
        (float("inf"), None),
        (True, None),
        ("12", None),
        (None, None),
    ],
)
def test_token_count(value: object, count: int | None) -> None:
    assert token_count(value) == count


def test_usage_with_a_count_that_is_not_one_is_unknown_not_zero() -> None:
    assert openai_usage({"prompt_tokens": 5, "completion_tokens": 2}) == Usage(5, 2)
    assert openai_usage({"prompt_tokens": -5, "completion_tokens": 2}) is None
    assert openai_usage({"prompt_tokens": 5, "completion_tokens": 2**70}) is None
    assert (
        openai_usage({"prompt_tokens": 5, "prompt_tokens_details": {"cached_tokens": "x"}}) is None
    )
    # Anthropic's counts that are not counts are left as they were (absent).
    assert anthropic_usage({"input_tokens": 5, "output_tokens": 2**70}) == Usage(5, 0)
    # Gemini omits zero counts: one that is not a count counts for nothing.
    assert gemini_usage({"promptTokenCount": 5, "candidatesTokenCount": 1.5}) == Usage(5, 0)


def completion(message: dict[str, Any], **choice: Any) -> bytes:
    return orjson.dumps(
        {"id": "c", "model": "m", "choices": [{"index": 0, "message": message, **choice}]}
    )


@pytest.mark.parametrize(
    "calls",
    [
        True,
        [1],
        [{"id": "c1"}],
        [{"function": {"arguments": "{}"}}],
        [{"function": {"name": "f", "arguments": {}}}],
    ],
)
def test_an_openai_answer_whose_tool_calls_are_not_calls_is_malformed(calls: Any) -> None:
    with pytest.raises(MalformedResponse, match="tool_calls"):
        decode_response(completion({"role": "assistant", "content": None, "tool_calls": calls}))


def test_an_openai_finish_reason_that_is_not_a_string_reads_as_a_stop() -> None:
    answer = decode_response(completion({"role": "assistant", "content": "hi"}, finish_reason=[1]))
    assert answer.stop_reason == "end_turn"


def test_stream_text_that_is_not_a_string_is_skipped_and_counted() -> None:
    openai = OpenAIStream()
    chunk = {"choices": [{"index": 0, "delta": {"content": 1.5}}]}
    assert openai.decode(SSEEvent(None, orjson.dumps(chunk))) == []
    assert openai.invalid_events == 1
    chunk = {"choices": [{"index": 0, "delta": {"content": "ok"}}]}
    assert TextDelta("ok") in openai.decode(SSEEvent(None, orjson.dumps(chunk)))

    anthropic = AnthropicStream()
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": 7}}
    assert anthropic.decode(SSEEvent("content_block_delta", orjson.dumps(delta))) == []
    assert anthropic.invalid_events == 1
