"""A stream that reaches the vendor's end marker without ever saying why it stopped
(OpenAI's `[DONE]` with no `finish_reason`, Anthropic's `message_stop` with no
`message_delta`) was cut: it reached the client as a complete answer ending `stop`.
Now it is truncated, as a stream that simply ends is: continued on another attempt, or
an error event for the client, never a made-up stop. Found by a fault probe."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.e2e.conftest import Stack
from tests.fakes import RawResponse
from tests.fakes.raw_streams import anthropic_message_start, openai_chunk, sse_body

CUT = "The capital of France is"


def openai_done_without_finish() -> RawResponse:
    chunks = [openai_chunk({"role": "assistant", "content": ""}), openai_chunk({"content": CUT})]
    return RawResponse(
        status=200, body=sse_body(chunks) + b"data: [DONE]\n\n", content_type="text/event-stream"
    )


def anthropic_stop_without_delta() -> RawResponse:
    events: list[dict[str, Any]] = [
        anthropic_message_start("msg_cut"),
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": CUT}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_stop"},
    ]
    return RawResponse(
        status=200, body=sse_body(events, named=True), content_type="text/event-stream"
    )


@pytest.mark.parametrize(
    ("profile", "cut"),
    [("oa", openai_done_without_finish), ("an", anthropic_stop_without_delta)],
    ids=["openai", "anthropic"],
)
def test_an_end_marker_without_a_stop_reason_is_not_a_complete_answer(
    stack: Stack, profile: str, cut: Any
) -> None:
    # Every attempt of the call is cut the same way, so nothing can complete it.
    for _ in range(8):
        stack.fake(profile).enqueue(cut())
    text, finish = "", None
    with pytest.raises(openai.APIError):
        for chunk in stack.openai().chat.completions.create(
            model=profile, messages=[{"role": "user", "content": "hi"}], stream=True
        ):
            for choice in chunk.choices:
                text += choice.delta.content or ""
                finish = choice.finish_reason or finish
    assert text.startswith(CUT)
    assert finish is None  # never a `stop` for a cut answer
