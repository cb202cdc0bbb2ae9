"""Anthropic Messages SSE streams <-> internal stream events.

Anthropic's sequence: `message_start` (with the input side of usage), then per content
block `content_block_start`, `content_block_delta`s (`text_delta`, `input_json_delta`,
`thinking_delta`, `signature_delta`), `content_block_stop`; `ping`s anywhere; then
`message_delta` (stop reason, cumulative usage) and `message_stop`. An `error` event
reports a failure after the 200.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Literal

import orjson

from switchpoint.chat.response import StopReason
from switchpoint.chat.stream import (
    Finish,
    MessageStart,
    RefusalDelta,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageUpdate,
    VendorPart,
    is_json_object,
    merge_usage,
)
from switchpoint.chat.usage import Usage
from switchpoint.protocols.anthropic import PROTOCOL
from switchpoint.protocols.anthropic.response import AnthropicUsage, encode_usage, message_id
from switchpoint.protocols.stop_reasons import ANTHROPIC_TO_INTERNAL, INTERNAL_TO_ANTHROPIC
from switchpoint.protocols.stream_error import StreamErrorEvent
from switchpoint.protocols.tool_arguments import arguments_object
from switchpoint.protocols.wire_text import wire_text
from switchpoint.transport.sse import SSEEvent

# A block of a kind the internal shape does not model, relayed as a `VendorPart`.
_VENDOR = "vendor"


class StreamDecoder:
    """Turns an upstream Anthropic SSE stream into internal events.

    `finished` is set by `message_stop`. A stream cut after `message_delta` carried the
    stop reason has lost nothing but the sentinel: `saw_finish_reason` tells the adapter
    so, and `finish()` closes it.
    """

    __slots__ = (
        "_blocks",
        "_tool_count",
        "_usage",
        "_without_arguments",
        "finished",
        "invalid_events",
        "stop_details",
        "stop_reason",
        "stop_sequence",
    )

    def __init__(self) -> None:
        # Anthropic block index -> ("tool", internal tool index) or (kind, -1).
        self._blocks: dict[int, tuple[str, int]] = {}
        self._tool_count = 0
        # Tool blocks (by Anthropic index) with no argument text yet: a tool without
        # parameters streams `input: {}` and an empty `partial_json`, and its call must
        # still end up with the arguments "{}", as it does unstreamed.
        self._without_arguments: set[int] = set()
        self._usage = AnthropicUsage()
        self.stop_reason: StopReason | None = None
        self.stop_sequence: str | None = None
        self.stop_details: dict[str, Any] | None = None
        self.finished = False
        # Events that were not valid JSON objects: skipped, and counted for metrics.
        self.invalid_events = 0

    @property
    def saw_finish_reason(self) -> bool:
        return self.stop_reason is not None

    def decode(self, event: SSEEvent) -> list[StreamEvent]:
        try:
            payload = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            self.invalid_events += 1
            return []
        if not isinstance(payload, dict):
            self.invalid_events += 1
            return []
        kind = payload.get("type", event.event)
        try:
            if kind == "content_block_delta":
                return self._delta(payload)
            if kind == "content_block_start":
                return self._block_start(payload)
            if kind == "message_start":
                return self._message_start(payload)
            if kind == "message_delta":
                return self._message_delta(payload)
            if kind == "content_block_stop":
                return self._block_stop(payload)
        except (KeyError, TypeError, AttributeError, ValueError):
            self.invalid_events += 1
            return []
        if kind == "message_stop":
            return self.finish()
        if kind == "error":
            raise StreamErrorEvent(payload.get("error", payload))
        # content_block_stop, ping, and event types added after this was written.
        return []

    def _message_start(self, payload: dict[str, Any]) -> list[StreamEvent]:
        message = payload["message"]
        out: list[StreamEvent] = [
            MessageStart(str(message.get("id", "")), str(message.get("model", "")))
        ]
        if self._usage.update(message.get("usage")):
            out.append(UsageUpdate(self._usage.internal()))
        return out

    def _block_start(self, payload: dict[str, Any]) -> list[StreamEvent]:
        index = int(payload["index"])
        block = payload["content_block"]
        kind = block.get("type")
        if kind == "tool_use":
            tool_index = self._tool_count
            self._tool_count += 1
            self._blocks[index] = ("tool", tool_index)
            out: list[StreamEvent] = [
                ToolCallStart(tool_index, str(block.get("id", "")), str(block.get("name", "")))
            ]
            initial = block.get("input")
            if isinstance(initial, dict) and initial:
                out.append(ToolCallDelta(tool_index, orjson.dumps(initial).decode()))
            else:
                self._without_arguments.add(index)
            return out
        self._blocks[index] = (str(kind), -1)
        if kind == "text":
            text = block.get("text")
            return [TextDelta(text)] if isinstance(text, str) and text else []
        if kind == "thinking":
            text = wire_text(block.get("thinking") or "")
            signature = wire_text(block.get("signature") or "")
            if text or signature:
                return [ThinkingDelta(text, signature=signature or None, signed=True)]
            return []
        if kind == "redacted_thinking":
            return [ThinkingDelta("", redacted_data=str(block.get("data", "")))]
        if isinstance(kind, str) and isinstance(block, dict):
            # A server tool's call or result, or a block type newer than this code: an
            # Anthropic client gets it as sent.
            self._blocks[index] = (_VENDOR, -1)
            return [VendorPart(PROTOCOL, "start", block)]
        return []

    def _block_stop(self, payload: dict[str, Any]) -> list[StreamEvent]:
        index = int(payload["index"])
        block = self._blocks.get(index)
        if block is None:
            return []
        if block[0] == _VENDOR:
            return [VendorPart(PROTOCOL, "stop")]
        if index in self._without_arguments:
            self._without_arguments.discard(index)
            return [ToolCallDelta(block[1], "{}")]
        return []

    def _delta(self, payload: dict[str, Any]) -> list[StreamEvent]:
        delta = payload["delta"]
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta["text"]
            if type(text) is not str:
                text = wire_text(text)
            return [TextDelta(text)] if text else []
        if kind == "input_json_delta":
            block = self._blocks.get(int(payload["index"]))
            if block is not None and block[0] == _VENDOR:
                return [VendorPart(PROTOCOL, "delta", delta)]
            fragment = wire_text(delta["partial_json"])
            if not fragment or block is None or block[0] != "tool":
                return []
            self._without_arguments.discard(int(payload["index"]))
            return [ToolCallDelta(block[1], fragment)]
        if kind == "thinking_delta":
            return [ThinkingDelta(wire_text(delta["thinking"]), signed=True)]
        if kind == "signature_delta":
            return [ThinkingDelta("", signature=wire_text(delta["signature"]), signed=True)]
        block = self._blocks.get(int(payload["index"]))
        if isinstance(kind, str) and block is not None and block[0] in (_VENDOR, "text"):
            # A text block's citations, a server tool block's content, a newer delta.
            return [VendorPart(PROTOCOL, "delta", delta)]
        return []

    def _message_delta(self, payload: dict[str, Any]) -> list[StreamEvent]:
        delta = payload.get("delta") or {}
        stop = delta.get("stop_reason")
        if isinstance(stop, str):
            self.stop_reason = ANTHROPIC_TO_INTERNAL.get(stop, "end_turn")
        sequence = delta.get("stop_sequence")
        if isinstance(sequence, str):
            self.stop_sequence = sequence
        details = delta.get("stop_details")
        if isinstance(details, dict):
            self.stop_details = details
        if self._usage.update(payload.get("usage")):
            return [UsageUpdate(self._usage.internal())]
        return []

    def finish(self) -> list[StreamEvent]:
        if self.finished:
            return []
        self.finished = True
        return [Finish(self.stop_reason or "end_turn", self.stop_sequence, self.stop_details)]


BlockKind = Literal["text", "thinking", "tool", "vendor"]

_PING = b'event: ping\ndata: {"type":"ping"}\n\n'
# While reasoning is held back, a ping this often keeps idle-timing proxies and clients
# from taking the quiet stream for a dead one.
KEEPALIVE_S = 10.0


def _event(name: bytes, payload: dict[str, Any]) -> bytes:
    return b"".join((b"event: ", name, b"\ndata: ", orjson.dumps(payload), b"\n\n"))


class StreamEncoder:
    """Renders internal events as the SSE stream an Anthropic client expects.

    `message_start` is held back until the first content (or the end), so that usage
    reported right after the start (Anthropic's own) is in it, as Anthropic sends it.
    Usage arriving later (OpenAI's and Gemini's come at the end) goes in `message_delta`,
    which the SDKs read as cumulative totals; until then `message_start` states
    `input_tokens`, which the SDKs and Claude Code read there, as the gateway counted
    them (`input_tokens`, the count it routed by), not as 0.

    Reasoning its vendor signs (Anthropic's) is relayed as it comes, its signature
    closing the block. Other reasoning is held until a signature comes, then sent as one
    block; reasoning that never gets one (other vendors') is never sent, as for a whole
    answer: Anthropic refuses unsigned thinking when the client replays it.

    Blocks go one at a time, each delta between its block's start and stop, whatever
    order the vendor's events came in (OpenAI's parallel calls interleave): see
    `_behind_call`.
    """

    __slots__ = (
        "_arguments",
        "_block",
        "_block_kind",
        "_blocks",
        "_id",
        "_input_estimate",
        "_model",
        "_pinged",
        "_reasoning",
        "_started",
        "_tool_blocks",
        "_usage",
        "_waiting",
    )

    def __init__(self, *, fallback_id: str, input_tokens: int = 0) -> None:
        self._id = fallback_id
        self._input_estimate = input_tokens
        self._model = ""
        self._started = False
        self._usage = Usage()
        self._blocks = 0  # blocks opened so far; the next block's index
        self._block: int | None = None  # the open block's index
        self._block_kind: BlockKind | None = None
        self._tool_blocks: dict[int, int] = {}  # internal tool index -> block index
        # The arguments of the open call, when its vendor does not guarantee JSON, held
        # until its block closes: an Anthropic SDK parses the input as it streams and
        # raises on the first fragment that is not JSON, so the input is sent whole,
        # once checked (`{}` if it is not an object, as for a whole answer).
        self._arguments: list[str] | None = None
        # Content that came while that call was unfinished (see `_behind_call`), in
        # arrival order: sent once the call's block is closed.
        self._waiting: list[StreamEvent] = []
        self._reasoning: list[str] = []  # unsigned reasoning text, held back
        self._pinged = 0.0  # when a ping was last sent

    def encode(self, event: StreamEvent) -> bytes:
        if type(event) is TextDelta:
            if not event.text:
                return b""
            if self._arguments is not None:
                return self._behind_call(event)
            head = self._open("text", {"type": "text", "text": ""})
            return head + self._delta({"type": "text_delta", "text": event.text})
        if type(event) is RefusalDelta:
            return self.encode(TextDelta(event.text))  # with `stop_reason: refusal`
        if type(event) is ToolCallDelta:
            if self._waiting:
                return self._delta_while_waiting(event)
            index = self._tool_blocks.get(event.index)
            # A call whose block is no longer open gets nothing more: Anthropic's clients
            # take a block as finished at its `content_block_stop`.
            if index is None or index != self._block or not event.arguments:
                return b""
            if self._arguments is not None:
                self._arguments.append(event.arguments)
                return b""
            return _event(
                b"content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": event.arguments},
                },
            )
        if type(event) is ToolCallStart:
            if self._arguments is not None:
                return self._behind_call(event)
            self._reasoning.clear()  # other content: that reasoning will not be signed
            head = self._start() + self._close()
            index = self._blocks
            self._blocks += 1
            self._tool_blocks[event.index] = index
            self._block, self._block_kind = index, "tool"
            if not event.valid_json:
                self._arguments = []
            block = {"type": "tool_use", "id": event.id, "name": event.name, "input": {}}
            return head + _event(
                b"content_block_start",
                {"type": "content_block_start", "index": index, "content_block": block},
            )
        if type(event) is ThinkingDelta:
            if self._arguments is not None:
                return self._behind_call(event)
            return self._thinking(event)
        if type(event) is UsageUpdate:
            self._usage = merge_usage(self._usage, event.usage)
            return b""
        if type(event) is MessageStart:
            if event.id:
                self._id = message_id(event.id)
            self._model = event.model
            return b""
        if type(event) is Finish:
            return self._finish(event)
        if type(event) is VendorPart:
            if self._arguments is not None:
                return self._behind_call(event)
            return self._vendor_part(event)
        return b""

    def _behind_call(self, event: StreamEvent) -> bytes:
        """Content that comes while a call whose arguments are held is open. OpenAI's
        chat format names each fragment's call by index, so a later call's start and
        fragments, or text, may come before this call's arguments are all in; closing
        the call's block then would cut its input short (Anthropic's clients take a
        block as finished at its stop, and a block's deltas must all come between its
        start and stop). Unless its arguments are already a whole JSON object, it stays
        open and the content waits, in arrival order, until they are or the answer ends.
        """
        if not self._waiting and is_json_object("".join(self._arguments or ())):
            return self._close() + self.encode(event)
        self._waiting.append(event)
        return b""

    def _delta_while_waiting(self, event: ToolCallDelta) -> bytes:
        """A fragment while content waits behind the open call: the open call's own is
        kept, and may complete it; any other call's waits its turn too."""
        arguments = self._arguments
        if arguments is None or self._tool_blocks.get(event.index) != self._block:
            self._waiting.append(event)  # dropped when replayed if its call is closed
            return b""
        if not event.arguments:
            return b""
        arguments.append(event.arguments)
        # A whole object ends with `}`: checked first, to parse only when it may be one.
        if event.arguments.rstrip()[-1:] != "}" or not is_json_object("".join(arguments)):
            return b""
        return self._release()

    def _release(self) -> bytes:
        """Close the open call's block, then send what waited behind it, in order, as if
        it came now (so a call among it may make what follows it wait in turn)."""
        waiting, self._waiting = self._waiting, []
        out = [self._close()]
        out.extend(self.encode(event) for event in waiting)
        return b"".join(out)

    def _vendor_part(self, event: VendorPart) -> bytes:
        """Anthropic's own content (a server tool's call or result, citations) as it
        came, in this stream's block numbering; another vendor's is dropped."""
        if event.protocol != PROTOCOL:
            return b""
        if event.step == "start" and event.part is not None:
            self._block_kind = None  # a block of its own, whatever is open
            return self._open("vendor", event.part)
        if event.step == "delta" and event.part is not None:
            if event.part.get("type") == "citations_delta" and self._block_kind != "text":
                # Citations come before their block's first text: they open it.
                return self._open("text", {"type": "text", "text": ""}) + self._delta(event.part)
            return self._delta(event.part) if self._block is not None else b""
        if event.step == "stop" and self._block_kind == "vendor":
            return self._close()
        return b""

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        self._pinged = time.monotonic()
        message: dict[str, Any] = {
            "id": self._id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": encode_usage(self._usage),
        }
        if not self._usage.input_tokens and self._input_estimate:
            # No vendor figure yet (no prompt has 0 tokens): the gateway's own count.
            message["usage"]["input_tokens"] = self._input_estimate
        return _event(b"message_start", {"type": "message_start", "message": message}) + _PING

    def _close(self) -> bytes:
        if self._block is None:
            return b""
        index = self._block
        self._block = self._block_kind = None
        stop = _event(b"content_block_stop", {"type": "content_block_stop", "index": index})
        held, self._arguments = self._arguments, None
        if not held:
            return stop
        arguments = arguments_object("".join(held))
        if not arguments:
            return stop
        delta = {"type": "input_json_delta", "partial_json": orjson.dumps(arguments).decode()}
        return (
            _event(
                b"content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
            + stop
        )

    def _open(self, kind: BlockKind, block: dict[str, Any]) -> bytes:
        """Start a block of `kind` unless one is already open."""
        if self._reasoning:
            self._reasoning.clear()  # other content: that reasoning will not be signed
        out = self._start()
        if self._block_kind == kind:
            return out
        out += self._close()
        index = self._blocks
        self._blocks += 1
        self._block, self._block_kind = index, kind
        return out + _event(
            b"content_block_start",
            {"type": "content_block_start", "index": index, "content_block": block},
        )

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return _event(
            b"content_block_delta",
            {"type": "content_block_delta", "index": self._block, "delta": delta},
        )

    def _thinking(self, event: ThinkingDelta) -> bytes:
        if event.redacted_data is not None:
            self._reasoning.clear()
            block = {"type": "redacted_thinking", "data": event.redacted_data}
            return self._whole_block(block, ())
        if event.signed:
            return self._signed_thinking(event)
        if event.text:
            self._reasoning.append(event.text)
        if not event.signature:
            return (self._start() + self._keepalive()) if event.text else b""
        text = "".join(self._reasoning)
        self._reasoning.clear()
        deltas = [{"type": "thinking_delta", "thinking": text}] if text else []
        deltas.append({"type": "signature_delta", "signature": event.signature})
        return self._whole_block({"type": "thinking", "thinking": "", "signature": ""}, deltas)

    def _signed_thinking(self, event: ThinkingDelta) -> bytes:
        out = self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""})
        if event.text:
            out += self._delta({"type": "thinking_delta", "thinking": event.text})
        if event.signature:
            # A signature ends its thinking block: more reasoning opens a new one.
            out += self._delta({"type": "signature_delta", "signature": event.signature})
            out += self._close()
        return out

    def _whole_block(self, block: dict[str, Any], deltas: Iterable[dict[str, Any]]) -> bytes:
        """A block opened, filled and closed at once, after any open one."""
        out = self._start() + self._close()
        index = self._blocks
        self._blocks += 1
        out += _event(
            b"content_block_start",
            {"type": "content_block_start", "index": index, "content_block": block},
        )
        for delta in deltas:
            out += _event(
                b"content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
        return out + _event(b"content_block_stop", {"type": "content_block_stop", "index": index})

    def _keepalive(self) -> bytes:
        now = time.monotonic()
        if now - self._pinged < KEEPALIVE_S:
            return b""
        self._pinged = now
        return _PING

    def _finish(self, event: Finish) -> bytes:
        out = self._start()
        while self._waiting:  # the answer is over: unfinished calls are what they are
            out += self._release()
        out += self._close()
        stop: dict[str, Any] = {
            "stop_reason": INTERNAL_TO_ANTHROPIC[event.stop_reason],
            "stop_sequence": event.stop_sequence,
        }
        if event.stop_details is not None:
            stop["stop_details"] = event.stop_details
        delta = {"type": "message_delta", "delta": stop, "usage": encode_usage(self._usage)}
        return (
            out
            + _event(b"message_delta", delta)
            + _event(b"message_stop", {"type": "message_stop"})
        )

    def encode_error(self, error_body: dict[str, Any]) -> bytes:
        """Anthropic's in-stream error event; the stream then ends without message_stop."""
        return _event(b"error", error_body)
