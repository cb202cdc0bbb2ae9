"""OpenAI `chat.completion.chunk` streams <-> internal stream events."""

from __future__ import annotations

import time
from typing import Any

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
)
from switchpoint.chat.usage import Usage
from switchpoint.protocols.openai import PROTOCOL
from switchpoint.protocols.openai.response import decode_usage, encode_usage
from switchpoint.protocols.stop_reasons import INTERNAL_TO_OPENAI, OPENAI_TO_INTERNAL
from switchpoint.protocols.stream_error import StreamErrorEvent
from switchpoint.protocols.wire_text import wire_text
from switchpoint.transport.sse import SSEEvent

# Delta fields of OpenAI's chat stream with no internal equivalent: they travel in a
# `VendorPart` whose part holds them under this key (a logprobs part never has it).
_OWN_FIELDS = ("function_call", "audio")
_OWN_FIELDS_KEY = "delta"


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
            out.append(_message_start(chunk))
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
                reasoning = delta.get("reasoning_content")  # DeepSeek's name for it
                if not reasoning:
                    # vLLM's (and OpenRouter's) since 2025; only ever text here.
                    alias = delta.get("reasoning")
                    reasoning = alias if type(alias) is str else None
                if reasoning:
                    out.append(ThinkingDelta(wire_text(reasoning)))
                refusal = delta.get("refusal")
                if refusal:
                    # Why the model refused, streamed apart from the content: for other
                    # protocols, text with their refusal stop (see `finish`).
                    self._refused = True
                    out.append(RefusalDelta(wire_text(refusal)))
                for call in delta.get("tool_calls") or ():
                    out.extend(self._tool_call(call))
                # OpenAI's own delta fields no other protocol has (a legacy `functions`
                # call, spoken audio): passed on to an OpenAI client as they came. Each
                # is a part begun and never ended (`start`), so that a stream cut after
                # one is not resumed as text.
                fields = {key: delta[key] for key in _OWN_FIELDS if delta.get(key)}
                if fields:
                    out.append(VendorPart(PROTOCOL, "start", {_OWN_FIELDS_KEY: fields}))
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


def _message_start(chunk: dict[str, Any]) -> MessageStart:
    """The first chunk's identity, with what OpenAI repeats on every chunk of a stream
    (`system_fingerprint`, `service_tier`): constant, so read once."""
    fingerprint = chunk.get("system_fingerprint")
    tier = chunk.get("service_tier")
    return MessageStart(
        str(chunk.get("id", "")),
        str(chunk.get("model", "")),
        fingerprint if type(fingerprint) is str else None,
        tier if type(tier) is str else None,
    )


class LogprobsStreamDecoder(StreamDecoder):
    """`StreamDecoder` for a request that asked for log-probabilities (OpenAI's
    `logprobs: true`): choice 0's `logprobs` of each chunk travel as a `VendorPart` just
    before the text they belong to (its content, or its refusal), for the OpenAI chat
    client's `LogprobsStreamEncoder`. A separate class, so that streams which did not
    ask (nearly all) pay nothing per event; a chunk without text (the role chunk's
    empty `content`) has nothing to carry them, and they are dropped."""

    __slots__ = ()

    def _decode_chunk(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        out = super()._decode_chunk(chunk)
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            logprobs = choice.get("logprobs")
            if type(logprobs) is not dict:
                continue
            for position, event in enumerate(out):
                if type(event) is TextDelta or type(event) is RefusalDelta:
                    out.insert(position, VendorPart(PROTOCOL, "delta", logprobs))
                    break
        return out


_FINISH_REASON = b',"logprobs":null,"finish_reason":'
_UNFINISHED_TAIL = _FINISH_REASON + b"null}]}\n\n"
_TEXT_TAIL = b"}" + _UNFINISHED_TAIL
_LOGPROBS = b'},"logprobs":'
_LOGPROBS_TAIL = b',"finish_reason":null}]}\n\n'


class StreamEncoder:
    """Renders internal events as the SSE stream an OpenAI client expects."""

    __slots__ = (
        "_called_function",
        "_constant",
        "_created",
        "_head",
        "_id",
        "_include_usage",
        "_model",
        "_refused",
        "_usage",
    )

    def __init__(self, *, include_usage: bool, fallback_id: str) -> None:
        self._include_usage = include_usage
        self._id = fallback_id
        self._model = ""
        self._created = int(time.time())
        self._usage: Usage | None = None
        self._head = b""
        # `service_tier` and `system_fingerprint`, when the vendor sent them.
        self._constant: dict[str, str] = {}
        # A refusal was sent in its own field: the answer ends with OpenAI's `stop`.
        self._refused = False
        # A legacy `function_call` was sent: the answer ends with `function_call`.
        self._called_function = False

    def _chunk(self, delta: bytes, finish: str | None = None) -> bytes:
        if finish is None:
            return b"".join((self._head, delta, _UNFINISHED_TAIL))
        return b"".join((self._head, delta, _FINISH_REASON, orjson.dumps(finish), b"}]}\n\n"))

    def encode(self, event: StreamEvent) -> bytes:
        if type(event) is TextDelta:
            # The commonest event, in one join (each `+` would copy the chunk so far).
            return b"".join((self._head, b'{"content":', orjson.dumps(event.text), _TEXT_TAIL))
        if type(event) is MessageStart:
            return self._start(event)
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
        if type(event) is RefusalDelta:
            self._refused = True
            return self._chunk(b'{"refusal":' + orjson.dumps(event.text) + b"}")
        if type(event) is Finish:
            stop = event.stop_reason
            finish = INTERNAL_TO_OPENAI[stop]
            if self._refused and stop == "content_filter":
                finish = "stop"
            elif self._called_function and stop == "tool_use":
                finish = "function_call"
            out = self._chunk(b"{}", finish)
            if self._include_usage:
                usage = self._usage or Usage()
                chunk: dict[str, Any] = {
                    "id": self._id,
                    "object": "chat.completion.chunk",
                    "created": self._created,
                    "model": self._model,
                }
                chunk.update(self._constant)
                chunk["choices"] = []
                chunk["usage"] = encode_usage(usage)
                out += b"data: " + orjson.dumps(chunk) + b"\n\n"
            return out + b"data: [DONE]\n\n"
        if type(event) is VendorPart and event.protocol == PROTOCOL and event.part:
            fields = event.part.get(_OWN_FIELDS_KEY)
            if type(fields) is dict:
                self._called_function = self._called_function or "function_call" in fields
                return self._chunk(orjson.dumps(fields))
        return b""  # reasoning has no place in OpenAI's chat stream

    def _start(self, event: MessageStart) -> bytes:
        """The stream's first chunk, and the head every later chunk starts with: what is
        constant for the stream is rendered once, here."""
        if event.id:
            self._id = event.id if event.id.startswith("chatcmpl") else f"chatcmpl-{event.id}"
        self._model = event.model
        constant: dict[str, str] = {}
        if event.service_tier is not None:
            constant["service_tier"] = event.service_tier
        if event.system_fingerprint is not None:
            constant["system_fingerprint"] = event.system_fingerprint
        self._constant = constant
        # The keys in the order OpenAI sends them, after `model` and before `choices`.
        extra = b"," + orjson.dumps(constant)[1:-1] if constant else b""
        self._head = (
            b'data: {"id":'
            + orjson.dumps(self._id)
            + b',"object":"chat.completion.chunk","created":'
            + str(self._created).encode()
            + b',"model":'
            + orjson.dumps(self._model)
            + extra
            + b',"choices":[{"index":0,"delta":'
        )
        return self._chunk(b'{"role":"assistant","content":""}')

    def encode_error(self, error_body: dict[str, Any]) -> bytes:
        """The in-stream error OpenAI's SDKs raise on; the stream then simply ends."""
        return b"data: " + orjson.dumps(error_body) + b"\n\n"


class LogprobsStreamEncoder(StreamEncoder):
    """`StreamEncoder` for a client that asked for log-probabilities: the `logprobs`
    a `LogprobsStreamDecoder` sent ahead of a text are rendered on that text's chunk,
    as OpenAI sends them."""

    __slots__ = ("_logprobs",)

    def __init__(self, *, include_usage: bool, fallback_id: str) -> None:
        super().__init__(include_usage=include_usage, fallback_id=fallback_id)
        self._logprobs: bytes | None = None

    def encode(self, event: StreamEvent) -> bytes:
        part = event.part if type(event) is VendorPart and event.protocol == PROTOCOL else None
        if part and _OWN_FIELDS_KEY not in part:  # own fields are rendered by the base
            self._logprobs = orjson.dumps(part)
            return b""
        if self._logprobs is not None:
            if type(event) is TextDelta:
                return self._with_logprobs(b'{"content":', event.text)
            if type(event) is RefusalDelta:
                self._refused = True
                return self._with_logprobs(b'{"refusal":', event.text)
        return super().encode(event)

    def _with_logprobs(self, field: bytes, text: str) -> bytes:
        """A text's chunk with the log-probabilities that came ahead of it."""
        logprobs, self._logprobs = self._logprobs, None
        assert logprobs is not None
        return b"".join(
            (self._head, field, orjson.dumps(text), _LOGPROBS, logprobs, _LOGPROBS_TAIL)
        )
