"""What routing is asked and what it answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from switchpoint.config.schema import SummarizationStrategy

if TYPE_CHECKING:
    from switchpoint.routing.context_size import ContextSize

# What the context rules did: nothing needed, the earlier turns are summarized, the
# request moves to a profile that holds it, or it is refused.
ContextAction = Literal["passed", "summarized", "moved", "rejected"]


@dataclass(frozen=True, slots=True)
class CompressionOutlook:
    """Whether the conversation can be summarized to fit `budget` tokens of `profile`,
    planned by the gateway before routing (see `switchpoint.context.plan`)."""

    profile: str
    budget: int
    compressible: bool
    # ok, fits, nothing_older, kept_exceeds_budget (the plan's), or token_count_only
    # (a bare token count: no conversation to look at).
    reason: str
    messages: int = 0
    summarized_messages: int = 0
    kept_messages: int = 0
    chunks: int = 0
    reduce_levels: int = 0
    tokens_before: int = 0
    tokens_after_max: int = 0
    last_message_tokens: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "profile": self.profile,
            "budget": self.budget,
            "compressible": self.compressible,
            "reason": self.reason,
            "messages": self.messages,
            "summarized_messages": self.summarized_messages,
            "kept_messages": self.kept_messages,
            "chunks": self.chunks,
            "reduce_levels_max": self.reduce_levels,
            "tokens_before": self.tokens_before,
            "tokens_after_max": self.tokens_after_max,
            "last_message_tokens": self.last_message_tokens,
        }


# Not frozen: made for every request, and a frozen dataclass's __init__ is slower.
@dataclass(slots=True)
class RoutingRequest:
    workload: str
    estimated_context_tokens: int
    # 0.0 (spend as little as possible) to 1.0 (no constraint), as in the seed.
    budget_constraint: float = 1.0
    # The client named a concrete model: no context-guard or budget moves, only the
    # safety rule that the model must hold the request.
    pinned: bool = False
    # Admission found the task's next call would exceed its budget (downgrade mode).
    over_task_budget: bool = False
    # The request's size per profile; None: `estimated_context_tokens` for every one.
    context: ContextSize | None = None
    # X-Switchpoint-Context-Strategy (None: the profile's, else the configuration's).
    strategy: SummarizationStrategy | None = None
    # Whether the conversation can be summarized for the requested profile.
    outlook: CompressionOutlook | None = None


@dataclass(slots=True)
class RoutingDecision:
    profile: str
    model: str
    provider: str
    requested_profile: str
    effective_max_tokens: int
    fallback_triggered: bool
    routing_rationale: str
    # Names of the rules that fired, in order, and a sentence for each.
    rules: list[str] = field(default_factory=list)
    explanations: list[str] = field(default_factory=list)
    # Profiles to try, in order, starting with `profile`: each one holds the context.
    chain: list[str] = field(default_factory=list)
    context_action: ContextAction = "passed"
    context_strategy: SummarizationStrategy = "none"
    # The request's size for `profile`, before any summarization.
    context_tokens: int = 0
    # `summarized`: the size the earlier turns are summarized to fit (in `profile`'s
    # tokens: its context minus the reply's reservation, at most the threshold).
    context_budget: int | None = None
    # Moved to the budget profile for its budget (`budget_fallback`, `task_budget`):
    # execution, too, may move it only to profiles within that budget.
    budget_bound: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "provider": self.provider,
            "profile": self.profile,
            "requested_profile": self.requested_profile,
            "effective_max_tokens": self.effective_max_tokens,
            "fallback_triggered": self.fallback_triggered,
            "routing_rationale": self.routing_rationale,
            "rules": list(self.rules),
            "explanations": list(self.explanations),
            "chain": list(self.chain),
            "context_action": self.context_action,
            "context_strategy": self.context_strategy,
            "context_tokens": self.context_tokens,
            "context_budget": self.context_budget,
        }
