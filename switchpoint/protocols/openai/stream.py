"""OpenAI `chat.completion.chunk` streams <-> internal stream events."""

from __future__ import annotations

import time
from typing import Any

import orjson

from switchpoint.chat.response import StopReason
from switchpoint.chat.stream import (
    Finish,
    MessageStart,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageUpdate,
)
from switchpoint.chat.usage import Usage
from switchpoint.protocols.openai.response import decode_usage, encode_usage
from switchpoint.protocols.stop_reasons import INTERNAL_TO_OPENAI, OPENAI_TO_INTERNAL
from switchpoint.protocols.stream_error import StreamErrorEvent
from switchpoint.protocols.wire_text import wire_text
from switchpoint.transport.sse import SSEEvent


class StreamDecoder:
    """Turns an upstream OpenAI SSE stream into internal events.

    The finish reason arrives before the usage chunk, so `Finish` is emitted at `[DONE]`
    (or, if the sentinel never comes, by `finish()` once the stream has ended).
    """

    __slots__ = (
        "_refused",
        "_started",
        "_tool_indexes",
        "finished",
        "invalid_events",
        "saw_usage",
        "stop_reason",
    )

    def __init__(self) -> None:
        self._started = False
        self.stop_reason: StopReason | None = None
        self.finished = False
        self.invalid_events = 0
        self.saw_usage = False
        self._refused = False
        self._tool_indexes: dict[int, int] = {}

    def decode(self, event: SSEEvent) -> list[StreamEvent]:
        data = event.data
        if data == b"[DONE]":
            return self.finish()
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            self.invalid_events += 1
            return []
        if not isinstance(chunk, dict):
            self.invalid_events += 1
            return []
        if chunk.get("error") is not None:
            raise StreamErrorEvent(chunk["error"])
        try:
            return self._decode_chunk(chunk)
        except (AttributeError, TypeError, ValueError):
            # Valid JSON of the wrong shape: skipped and counted like invalid JSON.
            self.invalid_events += 1
            return []

    def _decode_chunk(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        choices = chunk.get("choices") or ()
        # Only the last chunk carries usage (`null` or absent on the others).
        raw_usage = chunk.get("usage")
        usage = decode_usage(raw_usage) if raw_usage is not None else None
        if not self._started:
            self._started = True
            out.append(MessageStart(str(chunk.get("id", "")), str(chunk.get("model", ""))))
        for choice in choices:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if content:
                # The commonest event: the type tested inline, the call only when it fails.
                out.append(TextDelta(content if type(content) is str else wire_text(content)))
            # Most deltas hold their content alone: the rarer keys are looked up only
            # when there is something else.
            if content is None or len(delta) > 1:
                reasoning = delta.get("reasoning_content")
                if reasoning:
                    out.append(ThinkingDelta(wire_text(reasoning)))
                refusal = delta.get("refusal")
                if refusal:
                    # Why the model refused, streamed apart from the content: for other
                    # protocols, text with their refusal stop (see `finish`).
                    self._refused = True
                    out.append(TextDelta(wire_text(refusal)))
                for call in delta.get("tool_calls") or ():
                    out.extend(self._tool_call(call))
            finish = choice.get("finish_reason")
            if finish:
                self.stop_reason = OPENAI_TO_INTERNAL.get(finish, "end_turn")
        if usage is not None:
            self.saw_usage = True
            out.append(UsageUpdate(usage))
        return out

    def _tool_call(self, call: dict[str, Any]) -> list[StreamEvent]:
        upstream_index = int(call.get("index", 0))
        function = call.get("function") or {}
        # Checked before any state changes: a call of the wrong shape is skipped whole.
        arguments = function.get("arguments")
        if arguments:
            arguments = wire_text(arguments)
        out: list[StreamEvent] = []
        index = self._tool_indexes.get(upstream_index)
        if index is None:
            index = len(self._tool_indexes)
            self._tool_indexes[upstream_index] = index
            out.append(
                ToolCallStart(
                    index,
                    str(call.get("id", "")),
                    str(function.get("name", "")),
                    valid_json=False,
                )
            )
        if arguments:
            out.append(ToolCallDelta(index, arguments))
        return out

    @property
    def saw_finish_reason(self) -> bool:
        return self.stop_reason is not None

    def finish(self) -> list[StreamEvent]:
        """Close the stream. Only a stream that reported why it stopped is complete."""
        if self.finished:
            return []
        self.finished = True
        stop = self.stop_reason or "end_turn"
        if self._refused and stop == "end_turn":
            stop = "content_filter"
        return [Finish(stop)]


_FINISH_REASON = b',"logprobs":null,"finish_reason":'
_UNFINISHED_TAIL = _FINISH_REASON + b"null}]}\n\n"
_TEXT_TAIL = b"}" + _UNFINISHED_TAIL


class StreamEncoder:
    """Renders internal events as the SSE stream an OpenAI client expects."""

    __slots__ = ("_created", "_head", "_id", "_include_usage", "_model", "_usage")

    def __init__(self, *, include_usage: bool, fallback_id: str) -> None:
        self._include_usage = include_usage
        self._id = fallback_id
        self._model = ""
        self._created = int(time.time())
        self._usage: Usage | None = None
        self._head = b""

    def _chunk(self, delta: bytes, finish: str | None = None) -> bytes:
        if finish is None:
            return b"".join((self._head, delta, _UNFINISHED_TAIL))
        return b"".join((self._head, delta, _FINISH_REASON, orjson.dumps(finish), b"}]}\n\n"))

    def encode(self, event: StreamEvent) -> bytes:
        if type(event) is TextDelta:
            # The commonest event, in one join (each `+` would copy the chunk so far).
            return b"".join((self._head, b'{"content":', orjson.dumps(event.text), _TEXT_TAIL))
        if type(event) is MessageStart:
            if event.id:
                self._id = event.id if event.id.startswith("chatcmpl") else f"chatcmpl-{event.id}"
            self._model = event.model
            self._head = (
                b'data: {"id":'
                + orjson.dumps(self._id)
                + b',"object":"chat.completion.chunk","created":'
                + str(self._created).encode()
                + b',"model":'
                + orjson.dumps(self._model)
                + b',"choices":[{"index":0,"delta":'
            )
            return self._chunk(b'{"role":"assistant","content":""}')
        if type(event) is ToolCallStart:
            call = {
                "index": event.index,
                "id": event.id,
                "type": "function",
                "function": {"name": event.name, "arguments": ""},
            }
            return self._chunk(orjson.dumps({"tool_calls": [call]}))
        if type(event) is ToolCallDelta:
            call = {"index": event.index, "function": {"arguments": event.arguments}}
            return self._chunk(orjson.dumps({"tool_calls": [call]}))
        if type(event) is UsageUpdate:
            self._usage = event.usage
            return b""
        if type(event) is Finish:
            out = self._chunk(b"{}", INTERNAL_TO_OPENAI[event.stop_reason])
            if self._include_usage:
                usage = self._usage or Usage()
                out += (
                    b"data: "
                    + orjson.dumps(
                        {
                            "id": self._id,
                            "object": "chat.completion.chunk",
                            "created": self._created,
                            "model": self._model,
                            "choices": [],
                            "usage": encode_usage(usage),
                        }
                    )
                    + b"\n\n"
                )
            return out + b"data: [DONE]\n\n"
        return b""  # reasoning has no place in OpenAI's chat stream

    def encode_error(self, error_body: dict[str, Any]) -> bytes:
        """The in-stream error OpenAI's SDKs raise on; the stream then simply ends."""
        return b"data: " + orjson.dumps(error_body) + b"\n\n"
