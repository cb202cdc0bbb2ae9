"""What routing is asked and what it answers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
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
        }
