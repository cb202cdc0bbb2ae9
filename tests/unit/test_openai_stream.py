"""The OpenAI chunk decoder: what each kind of chunk becomes, usage only where reported."""

from __future__ import annotations

import orjson

from switchpoint.chat.stream import Finish, MessageStart, TextDelta, UsageUpdate
from switchpoint.chat.usage import Usage
from switchpoint.protocols.openai.stream import StreamDecoder
from switchpoint.transport.sse import SSEEvent


def _chunk(delta: dict[str, object], finish: str | None = None, **extra: object) -> SSEEvent:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "gpt-x",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return SSEEvent(None, orjson.dumps(body))


def test_a_stream_decodes_to_start_text_usage_and_finish() -> None:
    decoder = StreamDecoder()
    events = []
    events += decoder.decode(_chunk({"role": "assistant", "content": ""}, usage=None))
    events += decoder.decode(_chunk({"content": "Hel"}))
    events += decoder.decode(_chunk({"content": "lo"}, usage=None))
    events += decoder.decode(_chunk({}, "stop"))
    assert not decoder.saw_usage  # `null` and absent usage report nothing
    usage = {"prompt_tokens": 7, "completion_tokens": 2,
             "prompt_tokens_details": {"cached_tokens": 3}}
    events += decoder.decode(SSEEvent(None, orjson.dumps({"choices": [], "usage": usage})))
    events += decoder.decode(SSEEvent(None, b"[DONE]"))
    assert events == [
        MessageStart("chatcmpl-1", "gpt-x"),
        TextDelta("Hel"),
        TextDelta("lo"),
        UsageUpdate(Usage(input_tokens=7, output_tokens=2, cached_input_tokens=3)),
        Finish("end_turn"),
    ]
    assert decoder.saw_usage and decoder.finished
    assert decoder.invalid_events == 0


def test_malformed_chunks_are_counted_and_skipped() -> None:
    decoder = StreamDecoder()
    assert decoder.decode(SSEEvent(None, b"{not json")) == []
    assert decoder.decode(SSEEvent(None, b"[1, 2]")) == []
    assert decoder.decode(_chunk({"content": "ok"})) == [
        MessageStart("chatcmpl-1", "gpt-x"),
        TextDelta("ok"),
    ]
    assert decoder.invalid_events == 2
