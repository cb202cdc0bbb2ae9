"""`compress`: run a compression plan with a summarizer, hierarchically, with a cache.

1. Plan (`plan.plan_compression`); a plan that is not `compressible` raises
   `NotCompressible` at once, before any summarizer call.
2. The whole older region may already have been summarized for the same room: one
   cache hit and done.
3. Level 0: every chunk summarized (cache first), `concurrency` calls at a time.
4. While the summaries together exceed the room for the summary message: consecutive
   summaries grouped to fit one summarizer call and summarized again, each group
   allowed its share of the room, level after level (`max_levels`, and each level must
   shrink the total, or `CompressionDidNotConverge`).
5. Assembly (`assembly.assemble`) and a final size check against the budget.

Any summarizer failure (an exception, a timeout, an empty answer) raises a
`SummarizerFailed`: never a truncated conversation.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from switchpoint.chat.request import Conversation
from switchpoint.context.assembly import assemble
from switchpoint.context.plan import (
    CompressionPlan,
    PlanInputs,
    Sizer,
    group_summaries,
    plan_compression,
    reduce_allowance,
)
from switchpoint.context.prompt import (
    PROMPT_VERSION,
    chunk_prompt,
    reduce_prompt,
    render_transcript,
)
from switchpoint.context.summarizer import (
    CompressionDidNotConverge,
    CompressionError,
    NotCompressible,
    Summarizer,
    SummarizerFailed,
    SummarizerTimeout,
    SummaryEmpty,
)
from switchpoint.context.summary_cache import SummaryCache, summary_key


@dataclass(slots=True)
class CompressionResult:
    """`tokens_before` is the plan's conservative size of the original (sum of message
    sizes); `tokens_after` the compressed conversation's upper bound (`Sizer.total`).
    `cache_hits` counts summaries served from the cache (the whole older region counts
    one), `summarizer_calls` the calls made."""

    conversation: Conversation
    tokens_before: int
    tokens_after: int
    summarized_messages: int
    cache_hits: int
    summarizer_calls: int
    levels: int
    plan: CompressionPlan


class _Run:
    def __init__(
        self,
        summarizer: Summarizer,
        cache: SummaryCache,
        namespace: str,
        timeout_s: float,
        concurrency: int,
    ) -> None:
        self.summarizer = summarizer
        self.cache = cache
        self.namespace = namespace
        self.timeout_s = timeout_s
        self.semaphore = asyncio.Semaphore(concurrency)
        self.hits = 0
        self.calls = 0

    def key(self, kind: str, max_tokens: int, material: str) -> str:
        return summary_key(PROMPT_VERSION, self.namespace, kind, str(max_tokens), material)

    async def summary(self, key: str, prompt: str, max_tokens: int) -> str:
        cached = await self.cache.get(key)
        if cached is not None:
            self.hits += 1
            return cached
        async with self.semaphore:
            self.calls += 1
            try:
                async with asyncio.timeout(self.timeout_s):
                    text = await self.summarizer.summarize(prompt, max_tokens)
            except TimeoutError as exc:
                raise SummarizerTimeout(f"summarizer timed out after {self.timeout_s}s") from exc
            except CompressionError:
                raise
            except Exception as exc:
                raise SummarizerFailed(f"summarizer failed: {exc!r}") from exc
        if not isinstance(text, str) or not text.strip():
            raise SummaryEmpty("summarizer returned no text")
        text = text.strip()
        await self.cache.put(key, text)
        return text

    async def all(self, jobs: list[tuple[str, str, int]]) -> list[str]:
        """Summaries for (key, prompt, max_tokens) jobs, in order; the first failure
        cancels the rest and is raised as itself."""
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self.summary(*job)) for job in jobs]
        except BaseExceptionGroup as failures:
            typed = failures.subgroup(CompressionError)
            first = typed.exceptions[0] if typed else failures.exceptions[0]
            # Raised as itself (its __cause__ kept), not wrapped in the task group's group.
            first.__suppress_context__ = True
            raise first  # noqa: B904
        return [task.result() for task in tasks]


def _plan_and_render(
    conversation: Conversation, inputs: PlanInputs, sizer: Sizer
) -> tuple[CompressionPlan, list[str]]:
    plan = plan_compression(conversation, inputs, sizer)
    return plan, _render(conversation, plan)


def _render(conversation: Conversation, plan: CompressionPlan) -> list[str]:
    return [render_transcript(conversation.messages, c) for c in plan.chunks]


def _joined(summaries: list[str]) -> str:
    if len(summaries) == 1:
        return summaries[0]
    return "\n\n".join(f"(part {i} of {len(summaries)})\n{s}" for i, s in enumerate(summaries, 1))


async def compress(
    conversation: Conversation,
    inputs: PlanInputs,
    summarizer: Summarizer,
    cache: SummaryCache,
    *,
    sizer: Sizer,
    namespace: str = "",
    timeout_s: float = 120.0,
    concurrency: int = 4,
    plan: CompressionPlan | None = None,
) -> CompressionResult:
    """Compress `conversation` to fit `inputs.budget` (see the module docstring).

    `namespace` goes into every cache key: give the summarizer profile/model, so that
    summaries made by one model are not served for another. `plan`: the plan already
    made for exactly these `conversation`, `inputs` and `sizer` (routing plans before it
    decides to summarize), so it is not made twice.
    """
    # Sizing every message and rendering the transcripts of a large conversation take
    # tens of milliseconds of CPU (bench/tokens_bench.py): off the event loop.
    rendered: list[str] = []
    if plan is None:
        planned, rendered = await asyncio.to_thread(_plan_and_render, conversation, inputs, sizer)
    else:
        planned = plan
        if planned.compressible:
            rendered = await asyncio.to_thread(_render, conversation, planned)
    if not planned.compressible:
        raise NotCompressible(planned)
    run = _Run(summarizer, cache, namespace, timeout_s, concurrency)
    messages = conversation.messages
    room = planned.summary_budget
    limits = f"{inputs.summary_tokens}/{inputs.chunk_tokens}/{inputs.min_summary_tokens}"
    whole_key = run.key("whole", room, limits + "\x00" + "\x00".join(rendered))
    text = await cache.get(whole_key)
    levels = 0
    if text is not None:
        run.hits += 1
    else:
        jobs = [
            (
                run.key("chunk", inputs.summary_tokens, f"{c.part}/{c.parts}\x00{body}"),
                chunk_prompt(messages, c, inputs.summary_tokens),
                inputs.summary_tokens,
            )
            for c, body in zip(planned.chunks, rendered, strict=True)
        ]
        summaries = await run.all(jobs)
        sizes = [sizer.text(s) for s in summaries]
        # The joined text, part labels included, is what must fit.
        while sizer.text(_joined(summaries)) > room:
            levels += 1
            if levels > inputs.max_levels:
                raise CompressionDidNotConverge(
                    f"summaries still take {sum(sizes)} tokens after {inputs.max_levels} "
                    f"levels; the room is {room}"
                )
            groups = group_summaries(sizes, inputs.chunk_tokens)
            allowance = reduce_allowance(len(groups), room, inputs)
            jobs = []
            for group in groups:
                parts = [summaries[i] for i in group]
                jobs.append(
                    (
                        run.key("reduce", allowance, "\x00".join(parts)),
                        reduce_prompt(parts, allowance),
                        allowance,
                    )
                )
            reduced = await run.all(jobs)
            reduced_sizes = [sizer.text(s) for s in reduced]
            if sum(reduced_sizes) >= sum(sizes):
                raise CompressionDidNotConverge(
                    f"level {levels} did not shrink the summaries ({sum(sizes)} -> "
                    f"{sum(reduced_sizes)} tokens)"
                )
            summaries, sizes = reduced, reduced_sizes
        text = _joined(summaries)
        await cache.put(whole_key, text)

    compressed = assemble(conversation, planned, text)
    after = await asyncio.to_thread(sizer.total, compressed)
    if after > inputs.budget:
        raise CompressionDidNotConverge(
            f"the compressed conversation takes {after} tokens, over the budget {inputs.budget}"
        )
    return CompressionResult(
        conversation=compressed,
        tokens_before=planned.tokens_before,
        tokens_after=after,
        summarized_messages=len(planned.summarized),
        cache_hits=run.hits,
        summarizer_calls=run.calls,
        levels=levels,
        plan=planned,
    )
