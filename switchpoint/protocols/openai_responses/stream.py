"""Internal stream events <-> OpenAI Responses event streams.

Encoding, for a Responses client:

The stream is a lifecycle: `response.created` and `response.in_progress`, then each
output item opened (`response.output_item.added`), filled (text or argument deltas) and
closed (`...done` events), then exactly one terminal event: `response.completed`,
`response.incomplete` (cut by the output limit or a content filter) or, when the
upstream failed mid-answer, `error` and `response.failed`. Every event carries a
`sequence_number`, from 0. OpenAI's SDKs check the lifecycle (an item's events only
between its added and done), and OpenAI sends one item at a time (each done before the
next is added), which some clients rely on: `StreamEncoder` keeps to both.

A refusal (OpenAI chat's `refusal`) is a message of its own whose part is a `refusal`,
streamed as `response.refusal.delta`. Reasoning is not rendered, as on the Chat
Completions ingress. Decoding, from a model served over the Responses API:
`StreamDecoder`.
"""

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
    is_json_object,
    merge_usage,
)
from switchpoint.chat.usage import Usage
from switchpoint.protocols.openai_responses import PROTOCOL
from switchpoint.protocols.openai_responses.response import (
    call_id,
    call_item,
    call_item_id,
    decode_usage,
    message_item,
    message_item_id,
    output_text_part,
    refusal_part,
    response_object,
    status_of,
    stop_reason_of,
)
from switchpoint.protocols.stream_error import StreamErrorEvent
from switchpoint.protocols.tool_arguments import finished_arguments
from switchpoint.protocols.wire_text import wire_text
from switchpoint.transport.sse import SSEEvent

# OpenAI's codes for a failed response (`response.error.code`).
_FAILED_CODES = {"rate_limit_error": "rate_limit_exceeded"}


class _Item:
    """An output item, from the event that began it to its `done` events.

    `opened`: its `added` event was sent (it is the head of the output, or was); until
    then its content is only buffered. `valid_json`: a call whose vendor guarantees a
    JSON object, so a complete one cannot change any more. `refusal`: a message whose
    one part is a refusal, not `output_text`."""

    __slots__ = (
        "call",
        "delta_head",
        "done",
        "index",
        "item_id",
        "name",
        "opened",
        "pieces",
        "refusal",
        "valid_json",
        "vendor",
    )

    def __init__(
        self, index: int, item_id: str, *, name: str = "", call: str = "", valid_json: bool = False
    ) -> None:
        self.index = index
        self.item_id = item_id
        self.name = name
        self.call = call  # a function call's call_id; "" for a message
        self.valid_json = valid_json
        self.pieces: list[str] = []
        self.delta_head = b""
        self.opened = False
        self.done = False
        self.refusal = False
        # An item of the vendor's own, whole (a reasoning item from a model served over
        # this API): passed as it came.
        self.vendor: dict[str, Any] | None = None

    def settled(self) -> bool:
        """Whether nothing more can be added, given that an item follows it. Text after
        a call starts a message of its own, so a message is settled once followed. A
        call's arguments may still arrive interleaved with a later call's (OpenAI's chat
        streams parallel calls by index); only a complete JSON object from a vendor that
        promises one is known to be finished."""
        if not self.call:
            return True  # a message, or a vendor's whole item
        return self.valid_json and is_json_object("".join(self.pieces))


class StreamEncoder:
    """Renders internal events as the Responses lifecycle, one output item at a time.

    OpenAI sends an item's `added`, its deltas and its `done` events before the next
    item's `added`, and clients that track "the current item" (Codex CLI) rely on it.
    Internal events do not say when a call's arguments end, and some vendors interleave
    the deltas of parallel calls. So only the first unfinished item (the head) streams
    live; items after it are buffered, and each is sent whole once the head is settled
    (see `_Item.settled`) or the answer ends. Every event stays valid whatever the
    vendor's order, at the cost of later calls arriving at the end when their vendor
    cannot promise their arguments are finished.
    """

    __slots__ = (
        "_calls",
        "_created_at",
        "_echo",
        "_head",
        "_items",
        "_model",
        "_output",
        "_refusal",
        "_refused",
        "_request_id",
        "_sequence",
        "_started",
        "_text",
        "_usage",
    )

    def __init__(self, request_id: str, echo: dict[str, Any]) -> None:
        self._request_id = request_id
        self._echo = echo
        self._created_at = int(time.time())
        self._model = ""
        self._sequence = 0
        self._started = False
        # Every item so far, in output order; those before `_head` are done.
        self._items: list[_Item] = []
        self._head = 0
        # The items sent so far, as they last stood (the response object's `output`).
        self._output: list[dict[str, Any]] = []
        # The message that text goes to: the last item, when it is a message.
        self._text: _Item | None = None
        # The message that a refusal goes to: the last item, when it is a refusal's. A
        # slot of its own, so that a text delta costs no check of its message's kind.
        self._refusal: _Item | None = None
        self._refused = False  # a refusal part was sent: the answer is `completed`
        self._calls: dict[int, _Item] = {}
        self._usage: Usage | None = None

    def _event(self, kind: str, fields: dict[str, Any]) -> bytes:
        sequence = self._sequence
        self._sequence += 1
        payload = {"type": kind, **fields, "sequence_number": sequence}
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"

    def encode(self, event: StreamEvent) -> bytes:
        if type(event) is TextDelta:
            if not event.text:
                return b""
            text = self._text
            added = b""
            if text is None:
                text = self._text = self._new_message()
                self._refusal = None  # a refusal after this text is a message of its own
                added = self._add(text)
            text.pieces.append(event.text)
            if not text.opened:
                return added  # behind an unsettled call: sent whole later
            sequence = self._sequence
            self._sequence += 1
            return b"".join(
                (
                    added,
                    text.delta_head,
                    orjson.dumps(event.text),
                    b',"sequence_number":',
                    str(sequence).encode(),
                    b"}\n\n",
                )
            )
        if type(event) is RefusalDelta:
            return self._refusal_delta(event.text)
        if type(event) is MessageStart:
            self._model = event.model
            return self._start()
        if type(event) is ToolCallStart:
            return self._add_call(event)
        if type(event) is ToolCallDelta:
            return self._call_delta(event)
        if type(event) is UsageUpdate:
            self._usage = merge_usage(self._usage, event.usage)
            return b""
        if type(event) is Finish:
            status, incomplete = status_of(event.stop_reason, self._refused)
            closed = self._start() + self._close_all(status)
            kind = "response.completed" if status == "completed" else "response.incomplete"
            response = self._response(status, usage=self._usage, incomplete_details=incomplete)
            return closed + self._event(kind, {"response": response})
        if type(event) is VendorPart:
            return self._add_vendor_item(event)
        return b""  # reasoning of other vendors is not rendered

    def _add_vendor_item(self, event: VendorPart) -> bytes:
        """A whole item of this API's own (the encrypted reasoning a stateless client
        must send back to keep the model's reasoning), in its place in the output."""
        if event.protocol != PROTOCOL or event.step != "start" or event.part is None:
            return b""
        index = len(self._items)
        item = _Item(index, str(event.part.get("id") or ""))
        item.vendor = event.part
        self._text = self._refusal = None  # text after it is a message of its own
        return self._start() + self._add(item)

    def encode_error(self, error_body: dict[str, Any]) -> bytes:
        """`error` (on which OpenAI's Python SDK raises: it reads the nested `error`)
        then `response.failed`, the terminal event, with the items sent as they stood
        (buffered ones were never announced, so they are left out)."""
        error = error_body.get("error")
        details: dict[str, Any] = error if isinstance(error, dict) else {}
        message = str(details.get("message") or "the upstream failed mid-answer")
        kind = details.get("type")
        out = [self._start()]
        out.append(
            self._event(
                "error",
                {
                    "code": details.get("code"),
                    "message": message,
                    "param": details.get("param"),
                    "error": details,
                },
            )
        )
        head = self._items[self._head] if self._head < len(self._items) else None
        if head is not None and head.opened:
            self._output[head.index] = self._final_item(head, "incomplete")
        self._head = len(self._items)
        code = _FAILED_CODES.get(kind, "server_error") if isinstance(kind, str) else "server_error"
        failure = {"code": code, "message": message}
        response = self._response("failed", usage=self._usage, error=failure)
        out.append(self._event("response.failed", {"response": response}))
        return b"".join(out)

    def _response(self, status: str, **fields: Any) -> dict[str, Any]:
        return response_object(
            self._request_id,
            created_at=self._created_at,
            model=self._model,
            status=status,
            output=list(self._output),
            echo=self._echo,
            **fields,
        )

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        response = self._response("in_progress")
        return self._event("response.created", {"response": response}) + self._event(
            "response.in_progress", {"response": response}
        )

    def _new_message(self, refusal: bool = False) -> _Item:
        index = len(self._items)
        item = _Item(index, message_item_id(self._request_id, index))
        item.refusal = refusal
        kind = b"response.refusal.delta" if refusal else b"response.output_text.delta"
        item.delta_head = (
            b"event: "
            + kind
            + b'\ndata: {"type":"'
            + kind
            + b'","item_id":'
            + orjson.dumps(item.item_id)
            + b',"output_index":'
            + str(index).encode()
            + (
                b',"content_index":0,"delta":'
                if refusal
                else b',"content_index":0,"logprobs":[],"delta":'
            )
        )
        return item

    def _refusal_delta(self, text: str) -> bytes:
        """Why the model refused: a message of its own whose part is a `refusal`,
        streamed as `response.refusal.delta`, as OpenAI sends it (the SDK's `parse()`
        reads `output_text` as the answer)."""
        if not text:
            return b""
        item = self._refusal
        added = b""
        if item is None:
            item = self._refusal = self._new_message(refusal=True)
            self._refused = True
            self._text = None  # text after the refusal is a message of its own
            added = self._add(item)
        item.pieces.append(text)
        if not item.opened:
            return added  # behind an unsettled call: sent whole later
        sequence = self._sequence
        self._sequence += 1
        return b"".join(
            (
                added,
                item.delta_head,
                orjson.dumps(text),
                b',"sequence_number":',
                str(sequence).encode(),
                b"}\n\n",
            )
        )

    def _add_call(self, event: ToolCallStart) -> bytes:
        index = len(self._items)
        item = _Item(
            index,
            call_item_id(self._request_id, index),
            name=event.name,
            call=call_id(event.id, self._request_id, index),
            valid_json=event.valid_json,
        )
        self._calls[event.index] = item
        self._text = self._refusal = None  # text after a call is a message of its own
        return self._add(item)

    def _call_delta(self, event: ToolCallDelta) -> bytes:
        call = self._calls.get(event.index)
        # A call is closed early only once its JSON object is complete: what follows
        # can only be whitespace, which the client does not miss.
        if call is None or call.done or not event.arguments:
            return b""
        call.pieces.append(event.arguments)
        if not call.opened:
            return b""  # behind the head: sent whole later
        delta = self._event(
            "response.function_call_arguments.delta",
            {"item_id": call.item_id, "output_index": call.index, "delta": event.arguments},
        )
        return delta + self._advance()

    def _add(self, item: _Item) -> bytes:
        self._items.append(item)
        return self._advance()

    def _advance(self) -> bytes:
        """Open the head if it is not yet, and while it is settled and another item
        follows, close it and open the next, with what was buffered for it."""
        out: list[bytes] = []
        while self._head < len(self._items):
            head = self._items[self._head]
            if not head.opened:
                out.append(self._open(head))
            if self._head + 1 == len(self._items) or not head.settled():
                break
            out.append(self._close(head, "completed"))
        return b"".join(out)

    def _open(self, item: _Item) -> bytes:
        """`added`, then what was buffered for the item, as one delta."""
        item.opened = True
        content = "".join(item.pieces)
        index = item.index
        common = {"item_id": item.item_id, "output_index": index}
        if item.vendor is not None:
            self._output.append(item.vendor)
            return self._event(
                "response.output_item.added", {"output_index": index, "item": item.vendor}
            )
        if item.call:
            added = call_item(item.item_id, item.call, item.name, "", "in_progress")
            self._output.append(added)
            out = self._event("response.output_item.added", {"output_index": index, "item": added})
            if content:
                out += self._event(
                    "response.function_call_arguments.delta", {**common, "delta": content}
                )
            return out
        added = message_item(item.item_id, "", "in_progress")
        added["content"] = []
        self._output.append(added)
        part = refusal_part("") if item.refusal else output_text_part("")
        out = self._event(
            "response.output_item.added", {"output_index": index, "item": added}
        ) + self._event("response.content_part.added", {**common, "content_index": 0, "part": part})
        if content and item.refusal:
            out += self._event(
                "response.refusal.delta", {**common, "content_index": 0, "delta": content}
            )
        elif content:
            out += self._event(
                "response.output_text.delta",
                {**common, "content_index": 0, "logprobs": [], "delta": content},
            )
        return out

    def _final_item(self, item: _Item, status: str) -> dict[str, Any]:
        if item.vendor is not None:
            return item.vendor
        content = "".join(item.pieces)
        if item.call:
            return call_item(
                item.item_id, item.call, item.name, finished_arguments(content), status
            )
        return message_item(item.item_id, content, status, item.refusal)

    def _close(self, item: _Item, status: str) -> bytes:
        """The head's `done` events; the next item becomes the head."""
        item.done = True
        self._head = item.index + 1
        if item is self._text:
            self._text = None
        elif item is self._refusal:
            self._refusal = None
        final = self._final_item(item, status)
        self._output[item.index] = final
        common = {"item_id": item.item_id, "output_index": item.index}
        if item.vendor is not None:
            done = b""
        elif item.call:
            arguments = final["arguments"]
            # A parameterless call that came with no arguments ends with `{}`: streamed
            # too, so that the deltas still add up to the arguments `done` gives.
            missing = arguments[sum(map(len, item.pieces)) :]
            done = (
                self._event("response.function_call_arguments.delta", {**common, "delta": missing})
                if missing
                else b""
            ) + self._event(
                "response.function_call_arguments.done",
                {**common, "name": item.name, "arguments": arguments},
            )
        elif item.refusal:
            part = final["content"][0]
            done = self._event(
                "response.refusal.done",
                {**common, "content_index": 0, "refusal": part["refusal"]},
            ) + self._event(
                "response.content_part.done", {**common, "content_index": 0, "part": part}
            )
        else:
            text = final["content"][0]["text"]
            done = self._event(
                "response.output_text.done",
                {**common, "content_index": 0, "text": text, "logprobs": []},
            ) + self._event(
                "response.content_part.done",
                {**common, "content_index": 0, "part": output_text_part(text)},
            )
        return done + self._event(
            "response.output_item.done", {"output_index": item.index, "item": final}
        )

    def _close_all(self, status: str) -> bytes:
        """Open and close every remaining item, in order. Only the last was being
        written when the answer ended, so only it takes an `incomplete` status."""
        out: list[bytes] = []
        last = len(self._items) - 1
        for item in self._items[self._head :]:
            if not item.opened:
                out.append(self._open(item))
            out.append(self._close(item, status if item.index == last else "completed"))
        return b"".join(out)


class StreamDecoder:
    """Turns an upstream Responses event stream into internal events.

    The terminal event (`response.completed` or `response.incomplete`) carries the usage
    and ends the stream: there is no sentinel after it. `response.failed` and `error`
    are the vendor's in-stream errors. A server that skips the deltas and sends only the
    finished item (`response.output_item.done`) still has its text and arguments relayed.
    """

    __slots__ = (
        "_calls",
        "_filled",
        "_refused",
        "_started",
        "finished",
        "invalid_events",
        "stop_reason",
    )

    def __init__(self) -> None:
        self._started = False
        self._refused = False
        self.finished = False
        self.invalid_events = 0
        self.stop_reason: StopReason | None = None
        # Tool calls by their item's output index, numbered in order from 0.
        self._calls: dict[int, int] = {}
        # Output indexes whose text or arguments came as deltas.
        self._filled: set[int] = set()

    @property
    def saw_finish_reason(self) -> bool:
        return self.stop_reason is not None

    def decode(self, event: SSEEvent) -> list[StreamEvent]:
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            self.invalid_events += 1
            return []
        if not isinstance(data, dict):
            self.invalid_events += 1
            return []
        kind = data.get("type")
        if kind == "response.output_text.delta":
            self._filled.add(data["output_index"])
            return self._started_with([TextDelta(wire_text(data["delta"]))])
        if kind == "response.refusal.delta":
            self._filled.add(data["output_index"])
            self._refused = True
            return self._started_with([RefusalDelta(wire_text(data["delta"]))])
        if kind == "response.function_call_arguments.delta":
            index = data["output_index"]
            self._filled.add(index)
            delta = ToolCallDelta(self._calls[index], wire_text(data["delta"]))
            return self._started_with([delta])
        if kind == "response.output_item.added" or kind == "response.output_item.done":
            return self._started_with(self._item(data["output_index"], data["item"], kind))
        if (
            kind == "response.reasoning_summary_text.delta"
            or kind == "response.reasoning_text.delta"
        ):
            return self._started_with([ThinkingDelta(wire_text(data["delta"]))])
        if kind == "response.created":
            response = data["response"]
            return self._started_with([], response.get("id"), response.get("model"))
        if kind == "response.completed" or kind == "response.incomplete":
            return self._started_with(self._terminal(data["response"]))
        if kind == "response.failed":
            response = data.get("response")
            error = response.get("error") if isinstance(response, dict) else None
            raise StreamErrorEvent(error or {"message": "the response failed"})
        if kind == "error":
            raise StreamErrorEvent(data.get("error") or data)
        return []  # lifecycle and `...done` events repeat what the deltas carried

    def _started_with(
        self, events: list[StreamEvent], id_: object = None, model: object = None
    ) -> list[StreamEvent]:
        if self._started:
            return events
        self._started = True
        return [MessageStart(str(id_ or ""), str(model or "")), *events]

    def _item(self, output_index: int, item: dict[str, Any], kind: str) -> list[StreamEvent]:
        item_type = item.get("type")
        if item_type == "function_call":
            out: list[StreamEvent] = []
            index = self._calls.get(output_index)
            if index is None:
                index = self._calls[output_index] = len(self._calls)
                name = wire_text(item.get("name", ""))
                out.append(
                    ToolCallStart(index, str(item.get("call_id", "")), name, valid_json=False)
                )
            arguments = item.get("arguments")
            if kind.endswith(".done") and arguments and output_index not in self._filled:
                self._filled.add(output_index)
                out.append(ToolCallDelta(index, wire_text(arguments)))
            return out
        if item_type == "reasoning" and kind.endswith(".done"):
            # Whole, with its encrypted content when asked for: a Responses client sends it
            # back to keep the model's reasoning (nothing is stored at OpenAI).
            return [VendorPart(PROTOCOL, "start", item), VendorPart(PROTOCOL, "stop")]
        if item_type == "message" and kind.endswith(".done") and output_index not in self._filled:
            self._filled.add(output_index)
            parts: list[StreamEvent] = []
            for part in item.get("content") or ():
                if part.get("type") == "refusal":
                    refusal = wire_text(part.get("refusal") or "")
                    if refusal:
                        self._refused = True
                        parts.append(RefusalDelta(refusal))
                else:
                    text = wire_text(part.get("text") or "")
                    if text:
                        parts.append(TextDelta(text))
            return parts
        return []

    def _terminal(self, response: dict[str, Any]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        usage = decode_usage(response.get("usage"))
        if usage is not None:
            out.append(UsageUpdate(usage))
        stop = stop_reason_of(response, bool(self._calls))
        # A refusal is a completed answer in this API; in the internal shape, a filter.
        self.stop_reason = "content_filter" if self._refused and stop == "end_turn" else stop
        out.extend(self.finish())
        return out

    def finish(self) -> list[StreamEvent]:
        """Close the stream. Only a stream that reached its terminal event is complete."""
        if self.finished:
            return []
        self.finished = True
        return [Finish(self.stop_reason or "end_turn")]
