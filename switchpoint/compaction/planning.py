"""Planning a summarization for one target profile, before routing decides on it.

The plan (`switchpoint.context.plan`) says whether the conversation can be compressed to
the target's budget (is there anything older to summarize, does what must be kept leave
room for a summary) and what would be summarized: routing needs the first to choose
between summarizing and moving, `/v1/route` shows the second, and the compression then
runs the very same plan. Planning sizes every message (tens of milliseconds for a
megabyte conversation): callers run `plan` in a worker thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from switchpoint.chat.request import ChatRequest, Conversation
from switchpoint.compaction.measure import ContextMeter
from switchpoint.config.schema import ContextConfig
from switchpoint.context.plan import PROMPT_TOKENS, CompressionPlan, PlanInputs, plan_compression
from switchpoint.routing.decision import CompressionOutlook
from switchpoint.routing.registry import Profile, Registry
from switchpoint.tokens.sizing import ConversationSizer


@dataclass(slots=True)
class PlannedCompression:
    """A plan and everything needed to run it."""

    outlook: CompressionOutlook
    target: Profile
    conversation: Conversation
    plan: CompressionPlan | None = None
    inputs: PlanInputs | None = None
    sizer: ConversationSizer | None = None


@dataclass(frozen=True, slots=True)
class SummarizationWork:
    """The most a planned compression may cost on the summarizer model (cached summaries
    cost nothing): every chunk summarized, then the worst case of reduce levels."""

    model: str
    input_tokens: int
    output_tokens: int


class CompressionPlanner:
    def __init__(self, context: ContextConfig, registry: Registry, meter: ContextMeter) -> None:
        self.context = context
        self.registry = registry
        self.meter = meter

    @property
    def summarizer(self) -> Profile | None:
        name = self.registry.summarizer_profile
        return self.registry.profiles.get(name) if name is not None else None

    def summarizer_available(self) -> bool:
        summarizer = self.summarizer
        if summarizer is None:
            return False
        profiles = self.registry.profiles
        return summarizer.available or any(profiles[n].available for n in summarizer.fallbacks)

    def inputs(self, target: Profile, budget: int) -> PlanInputs | None:
        """Plan inputs for compressing to `budget` tokens of `target`; None when the
        summarizer's context cannot take a chunk holding two summaries."""
        summarizer = self.summarizer
        if summarizer is None:
            return None
        # Chunks are sized in the target's tokens; the summarizer may count the same text
        # as up to (ratio + uncertainty) / target ratio times as many of its own.
        target_spec = self.meter.spec(target)
        summarizer_spec = self.meter.spec(summarizer)
        worst = summarizer_spec.ratio + summarizer_spec.ratio_uncertainty
        context = summarizer.max_context * target_spec.ratio / worst
        summary = self.context.summary_tokens
        room = int((context - summary - PROMPT_TOKENS) * 0.9)
        chunk = min(self.context.chunk_tokens, room)
        if chunk < 2 * summary:
            return None
        return PlanInputs(
            budget=budget,
            keep_recent_tokens=self.context.keep_recent_tokens,
            keep_recent_share=self.context.keep_recent_share,
            chunk_tokens=chunk,
            summary_tokens=summary,
        )

    def work(self, planned: PlannedCompression) -> SummarizationWork | None:
        """What running `planned` may cost (for budgets to reserve); None if it will not
        run."""
        summarizer, plan, inputs = self.summarizer, planned.plan, planned.inputs
        if summarizer is None or plan is None or inputs is None or not plan.compressible:
            return None
        # The plan counts in the target's tokens; the summarizer bills in its own.
        scale = self.meter.spec(summarizer).ratio / self.meter.spec(planned.target).ratio
        chunks = len(plan.chunks)
        reduce_calls = chunks * plan.reduce_levels  # at most one a chunk per level
        calls = chunks + reduce_calls
        return SummarizationWork(
            model=summarizer.model,
            input_tokens=math.ceil(plan.summarized_tokens * scale)
            + calls * PROMPT_TOKENS
            + reduce_calls * inputs.summary_tokens,
            output_tokens=calls * inputs.summary_tokens,
        )

    def plan(self, request: ChatRequest, target: Profile, budget: int) -> PlannedCompression:
        """Plan compressing `request` to `budget` tokens of `target` (CPU-bound)."""
        conversation = request.conversation()
        messages = len(conversation.messages)

        def refused(reason: str) -> PlannedCompression:
            outlook = CompressionOutlook(
                profile=target.name,
                budget=budget,
                compressible=False,
                reason=reason,
                messages=messages,
            )
            return PlannedCompression(outlook, target, conversation)

        if not self.summarizer_available():
            return refused("summarizer_unavailable")
        inputs = self.inputs(target, budget)
        if inputs is None:
            return refused("summarizer_context_too_small")
        sizer = ConversationSizer(
            self.meter.counter,
            conversation,
            model=target.model,
            provider_type=self.meter.provider_types.get(target.provider, "openai"),
            provider=target.provider,
            # Exact where the BPE allows: a conservative estimate would keep less of the
            # recent conversation than configured. (Seconds of summarizer calls follow.)
            exact=True,
        )
        plan = plan_compression(conversation, inputs, sizer)
        outlook = CompressionOutlook(
            profile=target.name,
            budget=budget,
            compressible=plan.compressible,
            reason=plan.reason,
            messages=messages,
            summarized_messages=len(plan.summarized),
            kept_messages=len(plan.kept),
            chunks=len(plan.chunks),
            reduce_levels=plan.reduce_levels,
            tokens_before=plan.tokens_before,
            tokens_after_max=plan.tokens_after_max if plan.compressible else 0,
            last_message_tokens=plan.sizes[-1] if plan.sizes else 0,
        )
        return PlannedCompression(outlook, target, conversation, plan, inputs, sizer)
