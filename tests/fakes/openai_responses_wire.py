"""OpenAI's Responses API (``POST /v1/responses``) on the wire, for `OpenAIFake`.

The fake authenticates and validates; this module reads a valid body into a
``ResponsesSummary`` and renders a ``ReplyPlan`` as a ``response`` object or as
its SSE event stream. The shapes follow the official SDK's types
(``openai.types.responses``), except where the API is known to send something
else: its in-stream ``error`` event nests the error under ``"error"``, while the
SDK's ``ResponseErrorEvent`` has the fields at the top level.

A stream is ``response.created`` and ``response.in_progress``; per output item
``response.output_item.added``, its content or argument deltas and their
``.done`` events, ``response.output_item.done``; then one terminal event,
``response.completed`` or ``response.incomplete``. Every event has an
``event:`` line and a ``sequence_number`` from 0, and there is no ``[DONE]``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from tests.fakes import wire
from tests.fakes.reply import ReplyPlan, RequestSummary, Usage, compact_json, split_even

Status = Literal["in_progress", "completed", "incomplete"]

# The terminal status and ``incomplete_details.reason`` of each kind of stop.
_OUTCOME: dict[str, tuple[Status, str | None]] = {
    "end": ("completed", None),
    "tool": ("completed", None),
    "length": ("incomplete", "max_output_tokens"),
    "refusal": ("incomplete", "content_filter"),
}

# What the API reports back for a setting the request left out.
_DEFAULT_TEXT: dict[str, Any] = {"format": {"type": "text"}, "verbosity": "medium"}


@dataclass(frozen=True)
class ResponsesSummary(RequestSummary):
    """A Responses request: the planner's summary plus what the answer repeats."""

    echo: dict[str, Any] = field(default_factory=dict)
    """The request's settings as the response object reports them (tools,
    ``tool_choice``, ``temperature``, ``instructions``...), defaults filled in."""
    obfuscate: bool = True
    """Delta events carry ``obfuscation`` padding unless the request sets
    ``stream_options.include_obfuscation: false``."""


@dataclass(frozen=True)
class ResponseIds:
    """The ids one answer uses, drawn by the fake so they are unique per fake."""

    response: str
    message: str
    function_call: str


# ------------------------------------------------------------------ requests


def summarize_responses(model: str, body: dict[str, Any]) -> ResponsesSummary:
    """Summarise a body the fake has validated (``model`` and ``input`` present).

    A field of the wrong shape raises ``TypeError``/``AttributeError``, which the
    harness answers with OpenAI's 400.
    """
    raw_input = body["input"]
    items: list[Any] = (
        [{"role": "user", "content": raw_input}] if isinstance(raw_input, str) else raw_input
    )
    instructions = body.get("instructions")
    texts: list[str] = [instructions] if isinstance(instructions, str) else []
    texts.extend(_item_text(item) for item in items if isinstance(item, dict))
    last = items[-1] if items and isinstance(items[-1], dict) else {}
    trailing = (
        _message_text(last) if _is_message(last) and last.get("role") == "assistant" else None
    )
    tool_names = frozenset(
        str(tool.get("name"))
        for tool in body.get("tools") or []
        if isinstance(tool, dict) and tool.get("type") == "function"
    )
    limit = body.get("max_output_tokens")
    options = body.get("stream_options") or {}
    return ResponsesSummary(
        model=model,
        stream=body.get("stream") is True,
        prompt_text="\n".join(t for t in texts if t),
        tool_names=tool_names,
        trailing_assistant=trailing,
        last_is_tool_result=last.get("type") == "function_call_output",
        max_output_tokens=limit if isinstance(limit, int) else None,
        echo=_echo(body),
        obfuscate=options.get("include_obfuscation") is not False,
    )


def _is_message(item: dict[str, Any]) -> bool:
    # Easy input messages may leave out ``"type": "message"``.
    return item.get("type", "message") == "message" and "role" in item


def _item_text(item: dict[str, Any]) -> str:
    """The text of one input item that counts as prompt tokens (as chat counts
    message text, tool-call arguments and tool results)."""
    if _is_message(item):
        return _message_text(item)
    if item.get("type") == "function_call":
        return str(item.get("arguments", ""))
    if item.get("type") == "function_call_output":
        return _parts_text(item.get("output"))
    return ""  # reasoning items and the like carry no prompt text the fakes count


def _message_text(item: dict[str, Any]) -> str:
    return _parts_text(item.get("content"))


def _parts_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") in ("input_text", "output_text")
        )
    return ""


def _echo(body: dict[str, Any]) -> dict[str, Any]:
    reasoning = body.get("reasoning") or {}
    return {
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": {**_DEFAULT_TEXT, **(body.get("text") or {})},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": [_echo_tool(tool) for tool in body.get("tools") or []],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }


def _echo_tool(tool: Any) -> Any:
    if isinstance(tool, dict) and tool.get("type") == "function":
        # The API reports every field of a function tool; ``strict`` defaults to true.
        return {"description": None, "strict": True, **tool}
    return tool


# ------------------------------------------------------------------ answers


def usage_json(usage: Usage) -> dict[str, Any]:
    """Responses usage. As in chat, the prompt includes its cached part and the
    output includes the reasoning tokens."""
    output = usage.output_tokens + usage.reasoning_tokens
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_creation_tokens,
        },
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.prompt_tokens + output,
    }


def response_object(
    plan: ReplyPlan,
    summary: ResponsesSummary,
    ids: ResponseIds,
    created_at: int,
    *,
    final: bool,
) -> dict[str, Any]:
    """The ``response`` object: finished, or as ``response.created`` shows it
    (``in_progress``, no output, no usage)."""
    status, reason = _OUTCOME[plan.stop] if final else ("in_progress", None)
    return {
        "id": ids.response,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "completed_at": int(time.time()) if status == "completed" else None,
        "error": None,
        "incomplete_details": {"reason": reason} if reason else None,
        "model": plan.model,
        "output": output_items(plan, ids) if final else [],
        "service_tier": "default",
        "top_logprobs": 0,
        **summary.echo,
        "usage": usage_json(plan.usage) if final else None,
    }


def output_items(plan: ReplyPlan, ids: ResponseIds) -> list[dict[str, Any]]:
    """The finished output: a message for the text (or refusal), then the tool
    call. A bare tool call has no message, as the API sends it."""
    status: Status = "incomplete" if plan.stop in ("length", "refusal") else "completed"
    items: list[dict[str, Any]] = []
    if plan.refusal_text is not None:
        items.append(_message(ids.message, status, [_refusal_part(plan.refusal_text)]))
    elif plan.text or plan.tool_call is None:
        items.append(_message(ids.message, status, [_text_part(plan.text)]))
    if plan.tool_call is not None:
        items.append(
            {
                "id": ids.function_call,
                "type": "function_call",
                "status": "completed",
                "arguments": plan.tool_call.arguments_json,
                "call_id": plan.tool_call.id,
                "name": plan.tool_call.name,
            }
        )
    return items


def _message(item_id: str, status: Status, content: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "content": content,
        "role": "assistant",
    }


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def _refusal_part(refusal: str) -> dict[str, Any]:
    return {"type": "refusal", "refusal": refusal}


# ------------------------------------------------------------------ streams


def render_events(
    plan: ReplyPlan,
    summary: ResponsesSummary,
    ids: ResponseIds,
    created_at: int,
    stream_chunks: int,
) -> list[wire.Frame]:
    """The whole event stream. The terminal event is tagged ``finish`` (there
    is no sentinel), so ``MissingSentinel(keep_finish=False)`` drops exactly it."""
    events: list[dict[str, Any]] = []

    def emit(kind: str, *, padded: bool = False, **fields: Any) -> None:
        event: dict[str, Any] = {"type": kind, "sequence_number": len(events), **fields}
        if padded and summary.obfuscate:
            # Real delta events carry random padding; only its length has to
            # vary, so a deterministic filler keeps tests reproducible.
            event["obfuscation"] = "x" * (1 + len(events) % 7)
        events.append(event)

    opening = response_object(plan, summary, ids, created_at, final=False)
    emit("response.created", response=opening)
    emit("response.in_progress", response=opening)
    for index, item in enumerate(output_items(plan, ids)):
        where = {"item_id": item["id"], "output_index": index}
        if item["type"] == "message":
            emit(
                "response.output_item.added",
                output_index=index,
                item={**item, "status": "in_progress", "content": []},
            )
            part = item["content"][0]
            if part["type"] == "output_text":
                emit("response.content_part.added", **where, content_index=0, part=_text_part(""))
                for piece in plan.text_chunks:
                    emit(
                        "response.output_text.delta",
                        padded=True,
                        **where,
                        content_index=0,
                        delta=piece,
                        logprobs=[],
                    )
                emit(
                    "response.output_text.done",
                    **where,
                    content_index=0,
                    text=part["text"],
                    logprobs=[],
                )
            else:
                refusal = part["refusal"]
                emit(
                    "response.content_part.added", **where, content_index=0, part=_refusal_part("")
                )
                for piece in split_even(refusal, stream_chunks):
                    emit(
                        "response.refusal.delta", padded=True, **where, content_index=0, delta=piece
                    )
                emit("response.refusal.done", **where, content_index=0, refusal=refusal)
            emit("response.content_part.done", **where, content_index=0, part=part)
        else:
            emit(
                "response.output_item.added",
                output_index=index,
                item={**item, "status": "in_progress", "arguments": ""},
            )
            for piece in plan.tool_arg_chunks:
                emit("response.function_call_arguments.delta", padded=True, **where, delta=piece)
            emit(
                "response.function_call_arguments.done",
                **where,
                arguments=item["arguments"],
                name=item["name"],
            )
        emit("response.output_item.done", output_index=index, item=item)
    final = response_object(plan, summary, ids, created_at, final=True)
    terminal = "response.completed" if final["status"] == "completed" else "response.incomplete"
    emit(terminal, response=final)
    return [
        wire.Frame(_event_bytes(event), "finish" if event["type"] == terminal else "content")
        for event in events
    ]


def error_event(kind: str, message: str, sequence_number: int) -> bytes:
    """The in-stream error as the API sends it: ``event: error`` with the error
    nested under ``"error"`` (which is also what makes the SDK raise ``APIError``)."""
    if kind == "overloaded":
        error_type, code = "service_unavailable_error", "server_is_overloaded"
    else:
        error_type, code = "server_error", "server_error"
    error = {"type": error_type, "code": code, "message": message, "param": None}
    return _event_bytes({"type": "error", "sequence_number": sequence_number, "error": error})


def invalid_event(payload: str) -> bytes:
    # Every Responses event is named, so the junk travels under a real name,
    # as a corrupted delta would.
    return f"event: response.output_text.delta\ndata: {payload}\n\n".encode()


def _event_bytes(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {compact_json(event)}\n\n".encode()
