"""An error event after the vendor said why the answer stopped (`finish_reason`, the
usage, then an error instead of `[DONE]`) loses only the epilogue: the answer is
complete, as when the stream stalls or drops at that point. It was taken for a cut
mid-answer, and the finished answer "continued" with whatever another attempt added.
Found by a fault probe."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Stack
from tests.fakes import RawResponse
from tests.fakes.raw_streams import openai_chunk, sse_body

ANSWER = "Paris is the capital of France."


def finished_then_error() -> RawResponse:
    usage: dict[str, Any] = {**openai_chunk({}), "choices": []}
    usage["usage"] = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    events = [
        openai_chunk({"role": "assistant", "content": ""}),
        openai_chunk({"content": ANSWER}),
        openai_chunk({}, finish="stop"),
        usage,
        {"error": {"message": "server overloaded", "type": "server_error"}},
    ]
    return RawResponse(status=200, body=sse_body(events), content_type="text/event-stream")


def test_an_error_after_the_finish_reason_does_not_reopen_the_answer(stack: Stack) -> None:
    stack.openai_fake.enqueue(finished_then_error())
    stack.openai_fake.reply_text = " Anything else I can help with?"  # were it asked again
    text, finish = "", None
    for chunk in stack.openai().chat.completions.create(
        model="oa", messages=[{"role": "user", "content": "hi"}], stream=True
    ):
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    assert (text, finish) == (ANSWER, "stop")
    assert len(stack.openai_fake.requests) == 1
