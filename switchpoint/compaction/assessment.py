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
from switchpoint.routing.context_size import ContextSize, DeclaredSize, UniformSize
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
    # The client's max_tokens, if any (see `reserved_output`).
    max_output: int | None = None

    @property
    def outlook(self) -> CompressionOutlook | None:
        return self.planned.outlook if self.planned is not None else None

    def count_for(self, profile: Profile) -> TokenCount | None:
        """The request's token count for `profile`, when it was counted (not a bare
        token count, not a small body sized from its length)."""
        size = self.size
        return size.count(profile) if isinstance(size, CountedSize) else None


def reserved_output(config: Config, profile: Profile, max_output: int | None) -> int:
    """Output tokens kept free when compressing for `profile`: the client's max_tokens
    (within the model's `output_limit_tokens`, to which it is capped when sent), else the
    model's default maximum output, else `cost.reserve_output_tokens`."""
    model = config.models.get(profile.model)
    if max_output is not None:
        if model is not None and model.output_limit_tokens is not None:
            return min(max_output, model.output_limit_tokens)
        return max_output
    if model is not None and model.max_output_tokens is not None:
        return model.max_output_tokens
    return config.routing.cost.reserve_output_tokens


class Assessor:
    def __init__(
        self, config: Config, registry: Registry, meter: ContextMeter, planner: CompressionPlanner
    ) -> None:
        self.config = config
        self.registry = registry
        self.meter = meter
        self.planner = planner

    def quick(
        self,
        request: ChatRequest | None,
        selection: WorkloadSelection,
        *,
        raw: bytes | None = None,
        strategy: SummarizationStrategy | None = None,
        given_tokens: int | None = None,
        max_output: int | None = None,
    ) -> ContextAssessment | None:
        """The assessment when it needs no counting: a bare token count, or a small body
        (which fits everywhere, by construction); None otherwise. `raw`: the body as
        received, if it is `request`'s native body."""
        size: ContextSize | None
        if request is None:
            # A bare count (`/v1/route` or `route --tokens` without a body) decides alone:
            # there is no conversation to plan a summarization of.
            size = UniformSize(given_tokens or 0)
        elif raw is not None:
            size = self.meter.small(request.body, raw, max_output or 0)
            if size is None:
                return None
            if given_tokens is not None:
                declared = self._declared(selection, size, given_tokens, strategy, max_output)
                if declared is not None:
                    return declared
        else:
            return None
        return ContextAssessment(selection, size, strategy, None, max_output)

    def _declared(
        self,
        selection: WorkloadSelection,
        measured: ContextSize,
        declared: int,
        strategy: SummarizationStrategy | None,
        max_output: int | None,
    ) -> ContextAssessment | None:
        """A body whose client declared its size (X-Switchpoint-Context-Tokens). The
        declaration is taken when it is at least the gateway's own count, as a bare
        count (nothing planned for it); a smaller one is ignored (None: assess as if it
        were absent), since a budget reserved from it, or a model chosen by it, would
        be the client's to shrink."""
        profile = self.registry.profiles[selection.profile]
        if declared < measured.tokens(profile):
            return None
        return ContextAssessment(
            selection, DeclaredSize(measured, declared), strategy, None, max_output
        )

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
        quick = self.quick(
            request,
            selection,
            raw=raw,
            strategy=strategy,
            given_tokens=given_tokens,
            max_output=max_output,
        )
        if quick is not None:
            return quick
        assert request is not None
        registry = self.registry
        size = await self.meter.measure(request, max_output or 0)
        if given_tokens is not None:
            declared = self._declared(selection, size, given_tokens, strategy, max_output)
            if declared is not None:
                return declared
        assessment = ContextAssessment(selection, size, strategy, None, max_output)
        profile = registry.profiles[selection.profile]
        if (
            profile.available
            and registry.strategy_for(profile, strategy) == "hierarchical"
            and context_strategy.exceeds(registry, profile, size)
        ):
            budget = context_strategy.budget(
                registry, profile, reserved_output(self.config, profile, max_output)
            )
            assessment.planned = await asyncio.to_thread(
                self.planner.plan, request, profile, budget
            )
        return assessment
