"""What happened during a call, attempt by attempt: the facts every listener consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from switchpoint.chat.usage import Usage
from switchpoint.routing.decision import RoutingDecision
from switchpoint.tokens.counter import TokenCount

# Why the conversation was summarized: routing found it too large before dispatch, or a
# provider answered that it exceeds the model's context.
SummarizationTrigger = Literal["routing", "context_length"]
# `summarized`, or why not: the summarizer failed, timed out or answered nothing; there
# was nothing older to summarize; the summaries did not shrink enough.
SummarizationOutcome = Literal[
    "summarized",
    "failed",
    "timeout",
    "empty",
    "truncated",
    "not_compressible",
    "did_not_converge",
]

# The attempt reason of a summarizer call (the call's retries and fallbacks included).
SUMMARIZE = "summarize"

# The outcome of a target passed over because its circuit breaker is open: no request left.
SKIPPED_OPEN = "skipped_open"


@dataclass(slots=True)
class AttemptRecord:
    profile: str
    provider: str
    model: str
    # Why this attempt was made: first, retry (same target), fallback (next target),
    # continuation (resuming a cut stream).
    reason: str
    started_at: float  # time.perf_counter()
    # The failure kind that led to this attempt (None for the first one).
    cause: str | None = None
    duration_s: float = 0.0
    ttft_s: float | None = None
    # "ok", or the failure kind (see providers.errors.FailureKind), or SKIPPED_OPEN
    # for a target skipped because its circuit breaker is open.
    outcome: str = "ok"
    status: int | None = None
    error: str | None = None
    usage: Usage | None = None
    # True when `usage` is switchpoint's estimate: a stream cut before the provider
    # reported usage still consumed (and was billed) tokens.
    usage_estimated: bool = False
    cost_usd: float | None = None
    # Some of this attempt's content reached the client (it is part of the answer).
    delivered: bool = False
    # Stream events that could not be decoded, skipped.
    malformed_events: int = 0
    # The model's output limit, when the request's output maximum was capped to it for
    # this attempt (`models.<name>.output_limit_tokens`).
    output_capped: int | None = None
    # Sampling settings the model refuses, left out of the body this attempt sent.
    dropped_params: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def cost_known(self) -> bool:
        """Whether what the attempt cost is known. An attempt that produced content (it
        succeeded, or its stream broke after content began) consumed tokens: without a
        usage report (or an estimate) its cost is unknown, not zero."""
        if self.usage is not None:
            return self.cost_usd is not None
        return not (self.outcome == "ok" or self.delivered or self.ttft_s is not None)


@dataclass(slots=True)
class SummarizationRecord:
    """One compression of a call's conversation (its summarizer calls are attempts of
    the call, with reason `summarize`)."""

    trigger: SummarizationTrigger
    outcome: SummarizationOutcome
    # The profile the conversation was compressed for, and its size before and after
    # (in that profile's model's tokens; after: the upper end of its count).
    profile: str
    tokens_before: int
    tokens_after: int
    budget: int
    summarized_messages: int = 0
    cache_hits: int = 0
    summarizer_calls: int = 0
    levels: int = 0
    duration_s: float = 0.0
    error: str | None = None
    # False when the summary was set aside: its retry overflowed the provider again, and
    # the original conversation went to a larger-context model instead.
    dispatched: bool = True

    @property
    def ok(self) -> bool:
        return self.outcome == "summarized"

    @property
    def applied(self) -> bool:
        """The summarized conversation is what was sent."""
        return self.ok and self.dispatched


@dataclass(slots=True)
class CallRecord:
    """One client request from arrival to the last byte of its answer."""

    request_id: str
    protocol: str
    stream: bool
    started_wall: float  # unix time
    started_at: float  # time.perf_counter()
    workload: str | None = None
    task_id: str | None = None
    key_id: str | None = None
    team: str | None = None
    # The task's budget as it stood for this call (declared by headers or defaulted).
    task_budget_tokens: int | None = None
    task_budget_usd: float | None = None
    decision: RoutingDecision | None = None
    attempts: list[AttemptRecord] = field(default_factory=list)
    # Filled in when the call ends.
    status: str = "ok"  # ok | client_error | upstream_error | cancelled
    http_status: int = 200
    error_kind: str | None = None
    error: str | None = None
    duration_s: float = 0.0
    ttft_s: float | None = None
    served: AttemptRecord | None = None
    context_tokens: int = 0
    fallback_reasons: list[str] = field(default_factory=list)
    # Times a stream cut mid-answer was resumed on another attempt.
    continuations: int = 0
    # The client's W3C trace context headers, continued by the trace exporter.
    traceparent: str | None = None
    tracestate: str | None = None
    # The last compression of the conversation, if one was attempted.
    summarization: SummarizationRecord | None = None
    # The token count of what was dispatched, for `token_count_target` (provider,
    # model): what calibration learns from once the provider reports its usage.
    token_count: TokenCount | None = None
    token_count_target: tuple[str, str] | None = None

    @property
    def usage(self) -> Usage:
        total = Usage()
        for attempt in self.attempts:
            if attempt.usage is not None:
                total.add(attempt.usage)
        return total

    @property
    def cost_usd(self) -> float | None:
        """Total cost of every attempt that consumed tokens; None if any attempt's cost is
        unknown (no price, or content without a usage report), as the ledger has it."""
        total = 0.0
        for attempt in self.attempts:
            if not attempt.cost_known:
                return None
            if attempt.cost_usd is not None:
                total += attempt.cost_usd
        return total

    @property
    def known_cost_usd(self) -> float:
        """The cost of the attempts whose price is known (what budgets can count)."""
        return sum(a.cost_usd for a in self.attempts if a.cost_usd is not None)

    @property
    def upstream_attempts(self) -> int:
        return sum(1 for a in self.attempts if a.outcome != SKIPPED_OPEN)

    @property
    def retries(self) -> int:
        return sum(1 for a in self.attempts if a.reason == "retry")

    @property
    def context_action(self) -> str | None:
        """What happened to the context: passed, summarized, moved (by routing, or after
        a provider's context-length error), or rejected."""
        summarization = self.summarization
        if summarization is not None and summarization.applied:
            return "summarized"
        decision = self.decision
        if decision is None:
            return None
        if decision.context_action == "passed" and "context_length" in self.fallback_reasons:
            return "moved"
        return decision.context_action

    @property
    def context_tokens_after(self) -> int:
        summarization = self.summarization
        if summarization is not None and summarization.applied:
            return summarization.tokens_after
        return self.context_tokens

    @property
    def fallbacks(self) -> int:
        """Moves to another target (skipped open breakers included)."""
        return sum(1 for a in self.attempts if a.reason == "fallback")

    @property
    def answer_attempts(self) -> list[AttemptRecord]:
        """The attempts whose content makes up the answer, in order."""
        return [a for a in self.attempts if a.delivered or a is self.served]

    @property
    def models(self) -> list[str]:
        """The models that produced the answer (more than one after a continuation)."""
        names: list[str] = []
        for attempt in self.answer_attempts:
            if attempt.model not in names:
                names.append(attempt.model)
        return names

    @property
    def malformed_events(self) -> int:
        return sum(a.malformed_events for a in self.attempts)

    @property
    def fallback(self) -> bool:
        served = self.served
        if served is None or self.decision is None:
            return False
        return served.profile != self.decision.requested_profile
