"""What routing needs to know about a request's context, gathered before `resolve`.

`Assessor.assess` sizes the request (`measure`: as cheaply as the decision allows) and,
when the requested profile cannot take it as it is and the strategy is `hierarchical`,
plans the summarization for that profile (in a worker thread), so that routing can
choose between summarizing and moving, and the compression can then run that plan.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from switchpoint.chat.request import ChatRequest
from switchpoint.compaction.measure import ContextMeter, CountedSize
from switchpoint.compaction.planning import CompressionPlanner, PlannedCompression
from switchpoint.config.schema import Config, SummarizationStrategy
from switchpoint.routing.context_size import ContextSize, UniformSize
from switchpoint.routing.decision import CompressionOutlook
from switchpoint.routing.registry import Profile, Registry
from switchpoint.routing.rules import context_strategy
from switchpoint.routing.workload import WorkloadSelection
from switchpoint.tokens.counter import TokenCount


@dataclass(slots=True)
class ContextAssessment:
    selection: WorkloadSelection
    size: ContextSize
    # X-Switchpoint-Context-Strategy, if the client sent one.
    strategy: SummarizationStrategy | None = None
    planned: PlannedCompression | None = None
    # Output tokens kept free when compressing (the client's max_tokens, else the
    # model's maximum output, else `cost.reserve_output_tokens`).
    reserved_output: int = 0

    @property
    def outlook(self) -> CompressionOutlook | None:
        return self.planned.outlook if self.planned is not None else None

    def count_for(self, profile: Profile) -> TokenCount | None:
        """The request's token count for `profile`, when it was counted (not a bare
        token count, not a small body sized from its bytes)."""
        size = self.size
        return size.count(profile) if isinstance(size, CountedSize) else None


class Assessor:
    def __init__(
        self, config: Config, registry: Registry, meter: ContextMeter, planner: CompressionPlanner
    ) -> None:
        self.config = config
        self.registry = registry
        self.meter = meter
        self.planner = planner

    def reserved_output(self, profile: Profile, max_output: int | None) -> int:
        if max_output is not None:
            return max_output
        model = self.config.models.get(profile.model)
        if model is not None and model.max_output_tokens is not None:
            return model.max_output_tokens
        return self.config.routing.cost.reserve_output_tokens

    async def assess(
        self,
        request: ChatRequest | None,
        selection: WorkloadSelection,
        *,
        raw: bytes | None = None,
        strategy: SummarizationStrategy | None = None,
        given_tokens: int | None = None,
        max_output: int | None = None,
    ) -> ContextAssessment:
        """`raw`: the body as received (small ones are sized from it); `given_tokens`: a
        bare token count (the client's X-Switchpoint-Context-Tokens), which then decides
        alone: there is no conversation to plan a summarization of."""
        registry = self.registry
        profile = registry.profiles[selection.profile]
        reserved = self.reserved_output(profile, max_output)
        size: ContextSize | None = None
        if given_tokens is not None or request is None:
            size = UniformSize(given_tokens or 0)
        elif raw is not None:
            size = self.meter.raw(raw)
        if size is None:
            assert request is not None
            size = await self.meter.measure(request)
        assessment = ContextAssessment(selection, size, strategy, None, reserved)
        if (
            request is not None
            and given_tokens is None
            and profile.available
            and registry.strategy_for(profile, strategy) == "hierarchical"
            and context_strategy.exceeds(registry, profile, size)
        ):
            budget = context_strategy.budget(registry, profile, reserved)
            assessment.planned = await asyncio.to_thread(
                self.planner.plan, request, profile, budget
            )
        return assessment
