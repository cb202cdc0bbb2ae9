"""Running `summarization_strategy: hierarchical` on the request path.

Two moments:

* before dispatch (`summarize_for_dispatch`), when routing decided `summarized`: the
  plan made for routing runs, and the summarized conversation replaces the client's.
  If it cannot be (the summarizer fails, times out, answers nothing, or the summaries
  do not shrink enough), the call is routed again as the `none` strategy would (to a
  long-context profile that holds it), or, if none does, refused with a clear error:
  never sent over a model's limit, never truncated;
* after a provider's context-length error (`recovery`, called by the executor once per
  call): the request that failed is summarized for that target, aiming below the limit
  the provider quoted (our count was evidently low for it), and retried there once.

Each compression is recorded on the call (`CallRecord.summarization`) and announced on
the bus (`on_summarization`); its summarizer calls are attempts of the call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from functools import partial

from switchpoint.chat.request import ChatRequest, Conversation
from switchpoint.compaction.assessment import reserved_output
from switchpoint.compaction.measure import ContextMeter
from switchpoint.compaction.overflow import parse_overflow
from switchpoint.compaction.planning import CompressionPlanner, PlannedCompression
from switchpoint.compaction.summarizer import ExecutorSummarizer
from switchpoint.config.schema import Config
from switchpoint.context.compress import CompressionResult, compress
from switchpoint.context.summarizer import (
    CompressionDidNotConverge,
    CompressionError,
    NotCompressible,
    SummarizerTimeout,
    SummaryEmpty,
    SummaryTruncated,
)
from switchpoint.context.summary_cache import SummaryCache
from switchpoint.errors import GatewayError
from switchpoint.events import EventBus
from switchpoint.execution.executor import Executor, RequestRecovery
from switchpoint.execution.records import (
    CallRecord,
    SummarizationOutcome,
    SummarizationRecord,
    SummarizationTrigger,
)
from switchpoint.execution.targets import Target
from switchpoint.providers.errors import ProviderError
from switchpoint.routing.context_size import UniformSize
from switchpoint.routing.decision import RoutingDecision
from switchpoint.routing.registry import Profile, Registry
from switchpoint.routing.resolve import fallback_chain
from switchpoint.routing.rules import context_fit, context_guard, context_strategy
from switchpoint.tokens.counter import TokenCount

log = logging.getLogger("switchpoint.context")

# When a provider refuses a request our count said fits, aim this far below the limit it
# quoted (scaled to our count); without a quoted limit, this share of our own count.
_OVERFLOW_MARGIN = 0.95
_UNQUOTED_SHARE = 0.8


def outcome_of(error: CompressionError) -> SummarizationOutcome:
    if isinstance(error, SummarizerTimeout):
        return "timeout"
    if isinstance(error, SummaryEmpty):
        return "empty"
    if isinstance(error, SummaryTruncated):
        return "truncated"
    if isinstance(error, NotCompressible):
        return "not_compressible"
    if isinstance(error, CompressionDidNotConverge):
        return "did_not_converge"
    return "failed"


class Compactor:
    def __init__(
        self,
        config: Config,
        registry: Registry,
        meter: ContextMeter,
        planner: CompressionPlanner,
        executor: Executor,
        bus: EventBus,
        cache: SummaryCache,
    ) -> None:
        self.config = config
        self.context = config.routing.context
        self.registry = registry
        self.meter = meter
        self.planner = planner
        self.executor = executor
        self.bus = bus
        self.cache = cache

    def summarizer_targets(self) -> list[Target]:
        summarizer = self.planner.summarizer
        if summarizer is None:
            return []
        names = fallback_chain(self.registry, summarizer, UniformSize(0))
        profiles = self.registry.profiles
        return [self.executor.target(n) for n in names if profiles[n].available]

    # --- one compression ------------------------------------------------------------
    async def run(
        self,
        call: CallRecord,
        planned: PlannedCompression,
        trigger: SummarizationTrigger,
        tokens_before: int,
    ) -> Conversation:
        """Compress as planned; record and announce it; raise `CompressionError` if it
        cannot be done."""
        target = planned.target
        outlook = planned.outlook
        record = SummarizationRecord(
            trigger=trigger,
            outcome="summarized",
            profile=target.name,
            tokens_before=tokens_before,
            tokens_after=tokens_before,
            budget=outlook.budget,
        )
        plan, inputs, sizer = planned.plan, planned.inputs, planned.sizer
        if plan is None or inputs is None or sizer is None or not plan.compressible:
            record.outcome = "not_compressible"
            record.error = outlook.reason
            self._announce(call, record)
            raise CompressionError(f"conversation not compressible: {outlook.reason}")
        started = time.perf_counter()
        try:
            summarizer = self.planner.summarizer
            result: CompressionResult = await compress(
                planned.conversation,
                inputs,
                ExecutorSummarizer(self.executor, call, self.summarizer_targets(), self.meter),
                self.cache,
                sizer=sizer,
                namespace=summarizer.model if summarizer is not None else "",
                timeout_s=self.context.summarizer_timeout_s,
                concurrency=self.context.summarizer_concurrency,
                plan=plan,
            )
            count = await asyncio.to_thread(self._count, result.conversation, target)
        except CompressionError as error:
            record.outcome = outcome_of(error)
            record.error = str(error)
            record.duration_s = time.perf_counter() - started
            self._announce(call, record)
            log.warning(
                "request %s: summarization for %s failed (%s): %s",
                call.request_id,
                target.name,
                record.outcome,
                error,
            )
            raise
        record.tokens_after = count.tokens
        record.summarized_messages = result.summarized_messages
        record.cache_hits = result.cache_hits
        record.summarizer_calls = result.summarizer_calls
        record.levels = result.levels
        record.duration_s = time.perf_counter() - started
        call.token_count = count
        call.token_count_target = (target.provider, target.model)
        self._announce(call, record)
        return result.conversation

    def _count(self, conversation: Conversation, profile: Profile) -> TokenCount:
        # With the BPE (most texts are in the piece cache by now): what is reported as
        # the size after summarization is then what an OpenAI model bills, exactly.
        return self.meter.counter.count_conversation(
            conversation,
            model=profile.model,
            provider_type=self.meter.provider_types.get(profile.provider, "openai"),
            provider=profile.provider,
            force_exact=True,
        )

    def _count_request(self, request: ChatRequest, profile: Profile) -> TokenCount:
        return self._count(request.conversation(), profile)

    def _announce(self, call: CallRecord, record: SummarizationRecord) -> None:
        call.summarization = record
        self.bus.summarization(call, record)

    # --- before dispatch ----------------------------------------------------------------
    async def summarize_for_dispatch(
        self,
        call: CallRecord,
        request: ChatRequest,
        planned: PlannedCompression,
        reroute: Callable[[], RoutingDecision],
    ) -> ChatRequest:
        """The request to dispatch for a `summarized` decision: summarized, or (if that
        fails) the original, routed again as the `none` strategy would route it."""
        try:
            conversation = await self.run(call, planned, "routing", call.context_tokens)
        except CompressionError as error:
            call.decision = self._fallback(call, reroute, error)
            return request
        return request.replaced(conversation)

    def _fallback(
        self,
        call: CallRecord,
        reroute: Callable[[], RoutingDecision],
        error: CompressionError,
    ) -> RoutingDecision:
        reason = call.summarization.outcome if call.summarization is not None else "failed"
        try:
            decision = reroute()
        except GatewayError as refused:
            if call.decision is not None:
                call.decision.context_action = "rejected"  # what the client is told
            raise GatewayError(
                "context_length_exceeded",
                f"The earlier turns could not be summarized ({reason}: {error}), and no "
                f"model can take the conversation as it is: {refused.message}",
                param="messages",
                code="context_length_exceeded",
                context=refused.context,
            ) from None
        # The move the `none` strategy made is the summarization's fallback.
        decision.rules = [
            context_strategy.FALLBACK if rule in _MOVES else rule for rule in decision.rules
        ]
        decision.explanations.insert(0, f"summarization failed ({reason}): routed without it")
        return decision

    # --- after a provider's context-length error ---------------------------------------
    def recovery(self, call: CallRecord, max_output: int | None) -> RequestRecovery:
        """What the executor calls after a provider's context-length error (once)."""
        return partial(self.recover, call, max_output)

    async def recover(
        self,
        call: CallRecord,
        max_output: int | None,
        target: Target,
        request: ChatRequest,
        error: ProviderError,
    ) -> ChatRequest | None:
        """`request` summarized to fit `target` as its provider counts (`error` may say
        by how much our count was off), or None when it cannot be."""
        profile = target.profile
        reserved = reserved_output(self.config, profile, max_output)
        budget = context_strategy.budget(self.registry, profile, reserved)
        # Decoding and counting a long conversation: off the event loop.
        ours = await asyncio.to_thread(self._count_request, request, profile)
        overflow = parse_overflow(error.message)
        if overflow is not None and overflow.prompt_tokens > 0:
            aim = overflow.prompt_limit * ours.tokens / overflow.prompt_tokens
            budget = min(budget, int(aim * _OVERFLOW_MARGIN))
        else:
            budget = min(budget, int(ours.tokens * _UNQUOTED_SHARE))
        planned = await asyncio.to_thread(self.planner.plan, request, profile, budget)
        log.info(
            "request %s: %s/%s says the request exceeds its context (%s): summarizing to %d tokens",
            call.request_id,
            target.provider,
            target.model,
            "quoted" if overflow is not None else "no numbers quoted",
            budget,
        )
        try:
            conversation = await self.run(call, planned, "context_length", ours.tokens)
        except CompressionError:
            return None
        return request.replaced(conversation)


_MOVES = frozenset({context_guard.NAME, context_fit.NAME})
