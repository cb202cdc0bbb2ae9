"""Planning `summarization_strategy: hierarchical`: what to keep, what to summarize, how.

Pure: given a conversation, a token budget and message sizes, decide

* what is kept verbatim: the system prompt and tools (always), the most recent units
  (`keep_recent_tokens`, else `keep_recent_share` of the budget; the last unit always,
  however large), and every unit holding a message marked keep;
* what is summarized: all other, older units, as whole units (see `units`);
* how: the older units in chunks of at most `chunk_tokens` for the summarizer model (a
  unit larger than that is split into consecutive parts); each chunk summarized in at
  most `summary_tokens`; then, while the summaries together exceed the room left for
  the summary message (`summary_budget`), summaries of consecutive summaries, level by
  level (`reduce_levels` is the worst case, every summary using its whole allowance).

`compressible` is False when there is nothing older to summarize (a single huge message,
or only recent and kept messages) or when what must be kept leaves no room for a summary:
routing should then move to a longer-context model instead. A conversation that already
fits is not compressible either: there is nothing to do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

from switchpoint.chat.content import Message
from switchpoint.chat.request import Conversation
from switchpoint.context.units import Unit, units_of

# The framing and header of the summary message ("[switchpoint: summary of N earlier
# messages (T tokens)]"), a generous upper bound in tokens.
SUMMARY_MESSAGE_OVERHEAD = 40


class Sizer(Protocol):
    """Conservative token sizes (switchpoint.tokens.sizing.ConversationSizer)."""

    def message(self, message: Message) -> int: ...

    def text(self, text: str) -> int: ...

    def fixed(self, conversation: Conversation) -> int: ...


@dataclass(frozen=True, slots=True)
class PlanInputs:
    # The compressed conversation must fit in this many tokens (system and tools included).
    budget: int
    keep_recent_tokens: int | None = None
    keep_recent_share: float = 0.25
    # Transcript tokens per summarizer call: the summarizer model's context minus the
    # instruction and `summary_tokens` of output.
    chunk_tokens: int = 60_000
    # Most tokens one summarizer call may write.
    summary_tokens: int = 2_000
    # Less room than this for the summary and compression is pointless.
    min_summary_tokens: int = 256
    max_levels: int = 4

    def __post_init__(self) -> None:
        if self.budget <= 0 or self.chunk_tokens <= 0 or self.summary_tokens <= 0:
            raise ValueError("budget, chunk_tokens and summary_tokens must be positive")
        if not 0 < self.keep_recent_share < 1:
            raise ValueError("keep_recent_share must be in (0, 1)")
        if self.summary_tokens * 2 > self.chunk_tokens:
            raise ValueError("chunk_tokens must hold at least two summaries")


@dataclass(frozen=True, slots=True)
class Chunk:
    """Consecutive older units for one summarizer call; or part `part` of `parts` of one
    unit too large for a call."""

    units: tuple[Unit, ...]
    tokens: int
    part: int = 1
    parts: int = 1

    @property
    def first_message(self) -> int:
        return self.units[0].start

    @property
    def end_message(self) -> int:
        return self.units[-1].end


Reason = Literal["ok", "fits", "nothing_older", "kept_exceeds_budget"]


@dataclass(frozen=True, slots=True)
class CompressionPlan:
    compressible: bool
    reason: Reason
    budget: int
    tokens_before: int
    fixed_tokens: int
    # Message indices, ascending.
    kept: tuple[int, ...]
    summarized: tuple[int, ...]
    # Index of the first message of the recent window.
    recent_start: int
    chunks: tuple[Chunk, ...]
    # Tokens the summary message's text may take.
    summary_budget: int
    summarized_tokens: int
    reduce_levels: int
    sizes: tuple[int, ...]

    @property
    def tokens_after_max(self) -> int:
        kept = sum(self.sizes[i] for i in self.kept)
        return self.fixed_tokens + kept + SUMMARY_MESSAGE_OVERHEAD + self.summary_budget


def plan_compression(
    conversation: Conversation, inputs: PlanInputs, sizer: Sizer
) -> CompressionPlan:
    messages = conversation.messages
    sizes = tuple(sizer.message(m) for m in messages)
    fixed = sizer.fixed(conversation)
    before = fixed + sum(sizes)
    units = units_of(messages, sizes)

    def result(
        reason: Reason,
        recent_start: int = len(messages),
        kept: tuple[int, ...] = (),
        summarized: tuple[int, ...] = (),
        chunks: tuple[Chunk, ...] = (),
        room: int = 0,
        levels: int = 0,
    ) -> CompressionPlan:
        return CompressionPlan(
            compressible=reason == "ok",
            reason=reason,
            budget=inputs.budget,
            tokens_before=before,
            fixed_tokens=fixed,
            kept=kept,
            summarized=summarized,
            recent_start=recent_start,
            chunks=chunks,
            summary_budget=room,
            summarized_tokens=sum(sizes[i] for i in summarized),
            reduce_levels=levels,
            sizes=sizes,
        )

    if before <= inputs.budget:
        return result("fits", recent_start=0, kept=tuple(range(len(messages))))
    if not units:
        return result("nothing_older")

    recent_budget = (
        inputs.keep_recent_tokens
        if inputs.keep_recent_tokens is not None
        else int(inputs.keep_recent_share * inputs.budget)
    )
    # The recent window: the last unit always, then earlier units while they fit.
    first_recent = len(units) - 1
    recent_tokens = units[-1].tokens
    while first_recent > 0 and recent_tokens + units[first_recent - 1].tokens <= recent_budget:
        first_recent -= 1
        recent_tokens += units[first_recent].tokens

    def room_for(first: int) -> int:
        kept_older = sum(u.tokens for u in units[:first] if u.keep)
        recent = sum(u.tokens for u in units[first:])
        return inputs.budget - fixed - kept_older - recent - SUMMARY_MESSAGE_OVERHEAD

    # Shrink the recent window when what it keeps leaves no room for a summary.
    while room_for(first_recent) < inputs.min_summary_tokens and first_recent < len(units) - 1:
        first_recent += 1
    older = [u for u in units[:first_recent] if not u.keep]
    recent_start = units[first_recent].start
    kept = tuple(i for u in units if u.keep or u.start >= recent_start for i in u.messages)
    if not older:
        return result("nothing_older", recent_start, kept)
    room = room_for(first_recent)
    if room < inputs.min_summary_tokens:
        return result("kept_exceeds_budget", recent_start, kept)

    chunks = _chunks(older, inputs.chunk_tokens)
    summarized = tuple(i for u in older for i in u.messages)
    levels = _worst_case_levels(len(chunks), room, inputs)
    return result("ok", recent_start, kept, summarized, tuple(chunks), room, levels)


def _chunks(older: list[Unit], limit: int) -> list[Chunk]:
    """Greedy and in order, so the chunks of a conversation that has only grown since the
    last call are the same as then (and hit the summary cache), but for the last one."""
    chunks: list[Chunk] = []
    current: list[Unit] = []
    tokens = 0
    for unit in older:
        if unit.tokens > limit:
            if current:
                chunks.append(Chunk(tuple(current), tokens))
                current, tokens = [], 0
            parts = math.ceil(unit.tokens / limit)
            chunks.extend(
                Chunk((unit,), math.ceil(unit.tokens / parts), part=p, parts=parts)
                for p in range(1, parts + 1)
            )
            continue
        if current and tokens + unit.tokens > limit:
            chunks.append(Chunk(tuple(current), tokens))
            current, tokens = [], 0
        current.append(unit)
        tokens += unit.tokens
    if current:
        chunks.append(Chunk(tuple(current), tokens))
    return chunks


def reduce_allowance(groups: int, room: int, inputs: PlanInputs) -> int:
    """Tokens each of `groups` reduce calls may write so that together they fit `room`."""
    return max(inputs.min_summary_tokens, min(inputs.summary_tokens, room // max(groups, 1)))


def group_summaries(sizes: list[int], limit: int) -> list[list[int]]:
    """Consecutive summaries (by index) grouped greedily up to `limit` tokens a group."""
    groups: list[list[int]] = []
    tokens = 0
    for index, size in enumerate(sizes):
        if groups and tokens + size <= limit:
            groups[-1].append(index)
            tokens += size
        else:
            groups.append([index])
            tokens = size
    return groups


def _worst_case_levels(chunks: int, room: int, inputs: PlanInputs) -> int:
    sizes = [inputs.summary_tokens] * chunks
    levels = 0
    while sum(sizes) > room and levels < inputs.max_levels:
        groups = group_summaries(sizes, inputs.chunk_tokens)
        allowance = reduce_allowance(len(groups), room, inputs)
        sizes = [allowance] * len(groups)
        levels += 1
    return levels
