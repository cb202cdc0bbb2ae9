"""Gemini `GenerateContentResponse` bodies -> `ChatResponse`."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from switchpoint.chat.content import Block, Text, Thinking, ToolCall
from switchpoint.chat.response import ChatResponse, StopReason
from switchpoint.chat.usage import Usage
from switchpoint.protocols.gemini import PROTOCOL
from switchpoint.protocols.stop_reasons import GEMINI_TO_INTERNAL
from switchpoint.protocols.token_counts import token_count
from switchpoint.protocols.tool_arguments import arguments_text


class MalformedResponse(ValueError):
    """The provider answered 200 with a body that is not a GenerateContentResponse."""


class FailedToolCall(MalformedResponse):
    """Gemini ended the turn because it could not produce a tool call: the turn carries
    no call, and often nothing at all, so it is a failed attempt (retried or failed
    over), not an answer to pass on as complete."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Gemini ended its turn without the tool call it began ({reason})")
        self.reason = reason


# A malformed call, a call to a tool the request did not offer, too many server-side tool
# calls in a row.
FAILED_TOOL_CALL_REASONS = frozenset(
    {"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"}
)


class PromptBlocked(Exception):
    """Gemini refused the prompt itself (`promptFeedback.blockReason`): a 200 without
    any candidate, which is how Google reports what other vendors answer with a 400."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the prompt was blocked by Gemini's safety filters ({reason})")
        self.reason = reason


class CallIds:
    """Tool-call ids for function calls that came without one (Gemini before ids
    existed). One random prefix per answer keeps them unique across a conversation's
    turns; the sequence number keeps them in call order. Only [A-Za-z0-9_] is used, so
    every vendor accepts them back.

    Also collects the thought signatures Gemini attached to calls (`signatures`, by call
    id), which Gemini 3 wants back when the conversation is replayed, and the ids Gemini
    gave (`issued`), which go back on the call and its result.
    """

    __slots__ = ("_next", "_prefix", "issued", "names", "signatures")

    def __init__(self, prefix: str | None = None, names: dict[str, str] | None = None) -> None:
        self._prefix = prefix if prefix is not None else f"call_{uuid.uuid4().hex[:16]}_"
        self._next = 0
        self.signatures: dict[str, str] = {}
        self.issued: list[str] = []
        # The tools' names by the alias Gemini was given for those it refuses
        # (`function_names.py`): its calls reach the client under the tool's name.
        self.names = names or {}

    def __call__(self, given: object) -> str:
        self._next += 1
        if isinstance(given, str) and given:
            self.issued.append(given)
            return given
        return f"{self._prefix}{self._next - 1}"


def _count(meta: dict[str, Any], key: str) -> int:
    # Zero counts are omitted on the wire; a count that is not one counts for nothing.
    return token_count(meta.get(key, 0)) or 0


def decode_usage(meta: object) -> Usage | None:
    """`usageMetadata`: the prompt count includes cached tokens (as internally); thinking
    tokens are billed as output, so they count as output. Zero counts are omitted on the
    wire (proto3 JSON)."""
    if not isinstance(meta, dict):
        return None
    thoughts = _count(meta, "thoughtsTokenCount")
    return Usage(
        input_tokens=_count(meta, "promptTokenCount") + _count(meta, "toolUsePromptTokenCount"),
        output_tokens=_count(meta, "candidatesTokenCount") + thoughts,
        cached_input_tokens=_count(meta, "cachedContentTokenCount"),
        reasoning_tokens=thoughts,
    )


def decode_part(part: object, ids: CallIds) -> Block | None:
    if not isinstance(part, dict):
        return None
    call = part.get("functionCall")
    if isinstance(call, dict):
        ident = ids(call.get("id"))
        signature = part.get("thoughtSignature")
        if isinstance(signature, str) and signature:
            ids.signatures[ident] = signature
        name = str(call.get("name", ""))
        name = ids.names.get(name, name)
        return ToolCall(ident, name, arguments_text(call.get("args")))
    text = part.get("text")
    if isinstance(text, str):
        if part.get("thought") is True:
            # Gemini's thought signatures are not Anthropic's: never carried as one.
            return Thinking(text) if text else None
        return Text(text) if text else None
    return None  # inline data, executable code and other parts


def stop_reason(finish: object, has_tool_calls: bool) -> StopReason:
    """Raises `FailedToolCall` for a turn Gemini ended for want of a valid tool call."""
    if finish.__class__ is str and finish in FAILED_TOOL_CALL_REASONS:
        raise FailedToolCall(str(finish))
    reason = GEMINI_TO_INTERNAL.get(finish, "end_turn") if isinstance(finish, str) else "end_turn"
    # Gemini finishes a function-calling turn with a plain STOP.
    if has_tool_calls and reason == "end_turn":
        return "tool_use"
    return reason


def first_candidate(body: dict[str, Any]) -> dict[str, Any] | None:
    """The first candidate; raises `PromptBlocked` when the prompt was refused."""
    candidates = body.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
        return candidates[0]
    feedback = body.get("promptFeedback")
    if isinstance(feedback, dict) and isinstance(feedback.get("blockReason"), str):
        raise PromptBlocked(feedback["blockReason"])
    return None


def decode_response(raw: bytes, *, model: str, ids: CallIds | None = None) -> ChatResponse:
    """`model` is the one asked for, reported if the body names no `modelVersion`."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MalformedResponse("not a JSON response") from None
    if not isinstance(body, dict):
        raise MalformedResponse("not a GenerateContentResponse")
    candidate = first_candidate(body)
    if candidate is None:
        raise MalformedResponse("the response has no candidates")
    ids = ids if ids is not None else CallIds()
    content: list[Block] = []
    message = candidate.get("content")
    parts = message.get("parts") if isinstance(message, dict) else None
    for part in parts if isinstance(parts, list) else ():
        block = decode_part(part, ids)
        if block is not None:
            content.append(block)
    has_calls = any(isinstance(b, ToolCall) for b in content)
    response_id = body.get("responseId")
    version = body.get("modelVersion")
    return ChatResponse(
        id=response_id if isinstance(response_id, str) and response_id else uuid.uuid4().hex,
        model=version if isinstance(version, str) and version else model,
        content=content,
        stop_reason=stop_reason(candidate.get("finishReason"), has_calls),
        usage=decode_usage(body.get("usageMetadata")),
        raw=raw,
        raw_protocol=PROTOCOL,
    )
