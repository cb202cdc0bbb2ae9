"""Gemini `streamGenerateContent?alt=sse` streams -> internal stream events.

Each SSE event is a whole `GenerateContentResponse` holding the next piece of the
answer; `usageMetadata` is cumulative; the last chunk carries `finishReason`. There is
no sentinel: a stream that ends without a finish reason did not complete.
"""

from __future__ import annotations

from typing import Any

import orjson

from switchpoint.chat.content import Text, Thinking, ToolCall
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
from switchpoint.protocols.gemini.response import (
    CallIds,
    decode_part,
    decode_usage,
    first_candidate,
    stop_reason,
)
from switchpoint.protocols.stream_error import StreamErrorEvent
from switchpoint.transport.sse import SSEEvent


class StreamDecoder:
    """`finish_reason` is set by the chunk that carries one; the adapter emits `Finish`
    (via `finish()`) once the stream has ended after it."""

    __slots__ = (
        "_ids",
        "_model",
        "_started",
        "_tools",
        "finish_reason",
        "finished",
        "invalid_events",
    )

    def __init__(self, model: str, ids: CallIds | None = None) -> None:
        self._model = model
        self._ids = ids if ids is not None else CallIds()
        self._started = False
        self._tools = 0
        self.finish_reason: StopReason | None = None
        self.finished = False
        # Events that were not valid JSON objects: skipped, and counted for metrics.
        self.invalid_events = 0

    @property
    def saw_finish_reason(self) -> bool:
        return self.finish_reason is not None

    @property
    def signatures(self) -> dict[str, str]:
        """Thought signatures of the function calls seen so far, by call id."""
        return self._ids.signatures

    @property
    def issued(self) -> list[str]:
        """The ids Gemini gave the function calls seen so far."""
        return self._ids.issued

    def decode(self, event: SSEEvent) -> list[StreamEvent]:
        """Raises `StreamErrorEvent`, or `PromptBlocked` for a refused prompt."""
        try:
            chunk = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            self.invalid_events += 1
            return []
        if not isinstance(chunk, dict):
            self.invalid_events += 1
            return []
        if "error" in chunk:
            raise StreamErrorEvent(chunk["error"])
        out: list[StreamEvent] = []
        if not self._started:
            self._started = True
            response_id = chunk.get("responseId")
            version = chunk.get("modelVersion")
            out.append(
                MessageStart(
                    response_id if isinstance(response_id, str) else "",
                    version if isinstance(version, str) and version else self._model,
                )
            )
        candidate = first_candidate(chunk)
        if candidate is not None:
            out.extend(self._candidate(candidate))
        usage = decode_usage(chunk.get("usageMetadata"))
        if usage is not None:
            out.append(UsageUpdate(usage))
        return out

    def _candidate(self, candidate: dict[str, Any]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else ():
            block = decode_part(part, self._ids)
            if isinstance(block, Text):
                out.append(TextDelta(block.text))
            elif isinstance(block, ToolCall):
                # Gemini sends each function call whole, in one part.
                index = self._tools
                self._tools += 1
                out.append(ToolCallStart(index, block.id, block.name))
                out.append(ToolCallDelta(index, block.arguments))
            elif isinstance(block, Thinking):
                out.append(ThinkingDelta(block.text))
        finish = candidate.get("finishReason")
        if finish is not None:
            self.finish_reason = stop_reason(finish, self._tools > 0)
        return out

    def finish(self) -> list[StreamEvent]:
        if self.finished:
            return []
        self.finished = True
        return [Finish(self.finish_reason or "end_turn")]
