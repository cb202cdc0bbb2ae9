"""The vendor-neutral answer a fake gives: text or tool call, and its usage.

Every vendor fake turns a request into a ``RequestSummary``, asks ``plan_reply``
for a ``ReplyPlan`` and then renders that plan in its own wire format. Keeping
the decision here means the three fakes cannot drift apart on what they answer
or how they count tokens, which is what cost and routing tests compare.

Token counting is deliberately simple so tests can compute it by hand: one
token per whitespace-separated word (see ``count_tokens``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

StopKind = Literal["end", "tool", "length", "refusal"]
PrefillMode = Literal["continue", "ignore", "reject"]

_WORD = re.compile(r"\S+")

REFUSAL_TEXT = "I'm sorry, but I can't help with that."


def count_tokens(text: str) -> int:
    """The fakes' tokenizer: the number of whitespace-separated words."""
    return len(_WORD.findall(text))


def first_tokens(text: str, n: int) -> str:
    """The prefix of ``text`` that holds its first ``n`` tokens."""
    if n <= 0:
        return ""
    words = list(_WORD.finditer(text))
    if len(words) <= n:
        return text
    return text[: words[n - 1].end()]


def split_even(text: str, pieces: int) -> list[str]:
    """Split ``text`` into at most ``pieces`` non-empty parts that concatenate
    back to it, as near equal in length as character counts allow."""
    if not text:
        return []
    n = max(1, min(pieces, len(text)))
    size = len(text)
    return [text[i * size // n : (i + 1) * size // n] for i in range(n)]


def compact_json(value: Any) -> str:
    """JSON the way the vendors emit tool arguments: no spaces."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class RequestSummary:
    """What the planner needs to know about a request, extracted per vendor."""

    model: str
    stream: bool
    prompt_text: str
    """All text the request carries, joined; it is what input tokens count."""
    tool_names: frozenset[str] = frozenset()
    trailing_assistant: str | None = None
    """The text of the final assistant/model turn, if the request ends with one."""
    last_is_tool_result: bool = False
    max_output_tokens: int | None = None


@dataclass(frozen=True)
class ReplySettings:
    """A snapshot of a fake's answer settings, taken once per request."""

    reply_text: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0
    stream_chunks: int = 3
    tool_call: tuple[str, dict[str, Any]] | None = None
    tool_preamble: str | None = None
    prefill: PrefillMode = "continue"
    resolved_models: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Usage:
    """Vendor-neutral token counts; each vendor maps them to its own fields.

    ``prompt_tokens`` is the whole prompt, *including* cached and cache-written
    tokens (OpenAI and Gemini report it so; Anthropic reports the uncached rest
    as ``input_tokens``). ``output_tokens`` is the visible output;
    ``reasoning_tokens`` come on top of it.
    """

    prompt_tokens: int
    output_tokens: int
    cached_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def uncached_prompt_tokens(self) -> int:
        return max(0, self.prompt_tokens - self.cached_tokens - self.cache_creation_tokens)


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]

    @property
    def arguments_json(self) -> str:
        return compact_json(self.arguments)


@dataclass(frozen=True)
class ReplyPlan:
    """Everything a vendor renderer needs to emit one answer."""

    model: str
    """The model name to put in the answer (the requested one, or its snapshot)."""
    text: str
    text_chunks: list[str]
    tool_call: ToolCall | None
    tool_arg_chunks: list[str]
    stop: StopKind
    usage: Usage
    refusal_text: str | None = None


def prompt_tokens_of(summary: RequestSummary, settings: ReplySettings) -> int:
    if settings.input_tokens is not None:
        return settings.input_tokens
    return count_tokens(summary.prompt_text)


def plan_reply(
    summary: RequestSummary,
    settings: ReplySettings,
    *,
    tool_call_id: str,
    refusal: bool = False,
) -> ReplyPlan:
    """Decide the answer for one request (prefill rejection is the caller's job)."""
    full = settings.reply_text
    if full is None:
        full = f"Hello from {summary.model}."
    text = full
    prefill = summary.trailing_assistant
    if prefill is not None and settings.prefill == "continue" and full.startswith(prefill):
        # Anthropic and Gemini continue a trailing assistant turn instead of
        # starting over, so only the remainder comes back.
        text = full[len(prefill) :]

    tool: ToolCall | None = None
    if (
        settings.tool_call is not None
        and settings.tool_call[0] in summary.tool_names
        and not summary.last_is_tool_result
        and not refusal
    ):
        # A model answers a tool result in words, so a follow-up turn carrying
        # the result gets text; otherwise agent loops would never end.
        name, args = settings.tool_call
        tool = ToolCall(id=tool_call_id, name=name, arguments=args)
        text = settings.tool_preamble or ""

    stop: StopKind = "tool" if tool else "end"
    refusal_text: str | None = None
    if refusal:
        text = ""
        stop = "refusal"
        refusal_text = REFUSAL_TEXT
    elif (
        tool is None
        and summary.max_output_tokens is not None
        and count_tokens(text) > summary.max_output_tokens
    ):
        text = first_tokens(text, summary.max_output_tokens)
        stop = "length"

    if settings.output_tokens is not None:
        output = settings.output_tokens
    else:
        output = count_tokens(text) + count_tokens(refusal_text or "")
        if tool is not None:
            output += count_tokens(f"{tool.name} {tool.arguments_json}")

    usage = Usage(
        prompt_tokens=prompt_tokens_of(summary, settings),
        output_tokens=output,
        cached_tokens=settings.cached_tokens,
        cache_creation_tokens=settings.cache_creation_tokens,
        reasoning_tokens=settings.reasoning_tokens,
    )
    chunks = max(1, settings.stream_chunks)
    return ReplyPlan(
        model=settings.resolved_models.get(summary.model, summary.model),
        text=text,
        text_chunks=split_even(text, chunks),
        tool_call=tool,
        tool_arg_chunks=split_even(tool.arguments_json, chunks) if tool else [],
        stop=stop,
        usage=usage,
        refusal_text=refusal_text,
    )
