"""`resolve`: the seed's `resolveRouting`, configurable and safe.

Order, as in the seed: the context rules (the summarization strategy: summarize, move
with the context guard, or reject; see `rules/context_strategy.py`), then the budget
rule (then the task budget rule, when admission asks for it); after every step the
chosen profile must hold the request (`context_fit`). The result also carries the chain
of profiles execution may fail over to, each of which holds the request too (after
summarization: the summarized request).
"""

from __future__ import annotations

from switchpoint.config.schema import SummarizationStrategy
from switchpoint.errors import GatewayError
from switchpoint.routing.context_size import CompressedSize, ContextSize, UniformSize
from switchpoint.routing.decision import (
    CompressionOutlook,
    ContextAction,
    RoutingDecision,
    RoutingRequest,
)
from switchpoint.routing.registry import Profile, Registry
from switchpoint.routing.rules import (
    budget_fallback,
    context_fit,
    context_guard,
    context_strategy,
    task_budget,
)


def resolve(registry: Registry, request: RoutingRequest) -> RoutingDecision:
    profiles = registry.profiles
    requested = profiles.get(request.workload)
    if requested is None:
        known = ", ".join(sorted(profiles))
        raise GatewayError(
            "invalid_request",
            f"unknown workload {request.workload!r} (known: {known})",
            param="workload",
        )
    size: ContextSize = (
        request.context
        if request.context is not None
        else UniformSize(request.estimated_context_tokens)
    )
    original = size
    strategy = registry.strategy_for(requested, request.strategy)
    rules: list[str] = []
    notes: list[str] = []
    profile = requested
    action: ContextAction = "passed"
    budget: int | None = None

    if size.everywhere:
        # Known to fit everywhere (a small request): only availability can move it.
        if not profile.available:
            profile = _ensure_fits(registry, profile, size, rules, notes)
    elif context_strategy.exceeds(registry, profile, size):
        outlook = request.outlook
        if strategy == "reject":
            return _rejected(registry, requested, size, strategy, rules, notes)
        if (
            strategy == "hierarchical"
            and profile.available
            and outlook is not None
            and outlook.profile == profile.name
            and outlook.compressible
        ):
            budget = outlook.budget
            rules.append(context_strategy.SUMMARIZED)
            notes.append(
                f"{size.tokens(profile)} tokens exceed {_limit_of(registry, profile)}: the "
                f"{outlook.summarized_messages} earlier messages are summarized to fit "
                f"{budget} tokens on {profile.name}"
            )
            action = "summarized"
            size = CompressedSize(size, profile, budget)
        else:
            if strategy == "hierarchical":
                notes.append(f"not summarized: {_why_not(outlook, profile)}")
            profile = _move(registry, profile, size, request, rules, notes, outlook)
            if profile is not requested and rules and rules[-1] in _CONTEXT_MOVES:
                action = "moved"
    else:
        profile = _ensure_fits(registry, profile, size, rules, notes, request.outlook)

    moved_for_budget = False
    if not request.pinned and budget_fallback.applies(registry, profile, request.budget_constraint):
        target = budget_fallback.budget_target(registry, size)
        if target is not None:
            rules.append(budget_fallback.NAME)
            notes.append(
                f"budget {request.budget_constraint} is below "
                f"{registry.budget_fallback_trigger} and cost weight {profile.cost_weight} is "
                f"above {registry.downgrade_cost_weight_above}: {profile.name} -> {target.name}"
            )
            profile = target
            moved_for_budget = True
        else:
            rules.append(budget_fallback.BLOCKED)
            notes.append(
                f"budget profile {registry.budget_profile} cannot hold "
                f"{_tokens_on(registry, registry.budget_profile, size)} tokens: "
                f"staying on {profile.name}"
            )

    if request.over_task_budget:
        cheaper = None if request.pinned else task_budget.target(registry, profile, size)
        if cheaper is not None:
            rules.append(task_budget.NAME)
            notes.append(
                f"the task's next call would exceed its budget: {profile.name} -> {cheaper.name}"
            )
            profile = cheaper
            moved_for_budget = True
        elif profile.name != registry.budget_profile:
            rules.append(task_budget.BLOCKED)
            reason = (
                "the client pinned a model"
                if request.pinned
                else f"budget profile {registry.budget_profile} cannot hold "
                f"{_tokens_on(registry, registry.budget_profile, size)} tokens"
                if registry.budget_profile is not None
                else "no budget profile is configured"
            )
            notes.append(
                f"the task's next call would exceed its budget, but {reason}: "
                f"staying on {profile.name}"
            )

    tokens = size.tokens(profile)
    chain = fallback_chain(registry, profile, size)
    if moved_for_budget:
        chain = budget_fallback.affordable_chain(registry, chain)
    return RoutingDecision(
        profile=profile.name,
        model=profile.model,
        provider=profile.provider,
        requested_profile=requested.name,
        effective_max_tokens=min(tokens, profile.max_context),
        fallback_triggered=profile is not requested,
        routing_rationale=profile.routing_rationale,
        rules=rules,
        explanations=notes,
        chain=chain,
        context_action=action,
        context_strategy=strategy,
        context_tokens=tokens if original is size else original.tokens(profile),
        context_budget=budget,
        budget_bound=moved_for_budget,
    )


# Rules that move a request because of its size.
_CONTEXT_MOVES = frozenset({context_guard.NAME, context_fit.NAME})


def _limit_of(registry: Registry, profile: Profile) -> str:
    if profile.max_context < registry.reliability_threshold:
        return f"{profile.name}'s context of {profile.max_context}"
    return f"the reliability threshold {registry.reliability_threshold}"


def _why_not(outlook: CompressionOutlook | None, profile: Profile) -> str:
    if not profile.available:
        return f"{profile.name} is unavailable"
    if outlook is None or outlook.profile != profile.name:
        return "no conversation to summarize (a token count alone)"
    return {
        "nothing_older": "there are no earlier turns to summarize",
        "kept_exceeds_budget": (
            "the system prompt, recent turns and kept messages alone exceed "
            f"{outlook.budget} tokens"
        ),
        "fits": f"the conversation already fits {outlook.budget} tokens",
        "token_count_only": "no conversation to summarize (a token count alone)",
    }.get(outlook.reason, outlook.reason)


def _tokens_on(registry: Registry, name: str | None, size: ContextSize) -> int:
    profile = registry.profiles.get(name) if name is not None else None
    return size.tokens(profile) if profile is not None else 0


def _move(
    registry: Registry,
    profile: Profile,
    size: ContextSize,
    request: RoutingRequest,
    rules: list[str],
    notes: list[str],
    outlook: CompressionOutlook | None,
) -> Profile:
    """The seed's way (`none`): to the long-context profile, then to any that fits."""
    moved = None if request.pinned else context_guard.long_context_target(registry, profile, size)
    if moved is not None:
        rules.append(context_guard.NAME)
        notes.append(
            f"{size.tokens(profile)} tokens exceed the reliability threshold "
            f"{registry.reliability_threshold}: {profile.name} -> {moved.name}"
        )
        profile = moved
    return _ensure_fits(registry, profile, size, rules, notes, outlook)


def _rejected(
    registry: Registry,
    requested: Profile,
    size: ContextSize,
    strategy: SummarizationStrategy,
    rules: list[str],
    notes: list[str],
) -> RoutingDecision:
    tokens = size.tokens(requested)
    rules.append(context_strategy.REJECTED)
    notes.append(
        f"{tokens} tokens exceed {_limit_of(registry, requested)} and the summarization "
        f"strategy is reject"
    )
    return RoutingDecision(
        profile=requested.name,
        model=requested.model,
        provider=requested.provider,
        requested_profile=requested.name,
        effective_max_tokens=min(tokens, requested.max_context),
        fallback_triggered=False,
        routing_rationale=requested.routing_rationale,
        rules=rules,
        explanations=notes,
        chain=[],
        context_action="rejected",
        context_strategy=strategy,
        context_tokens=tokens,
    )


def rejected_error(registry: Registry, decision: RoutingDecision) -> GatewayError:
    """The client's error for a decision whose context action is `rejected`."""
    profile = registry.profiles[decision.profile]
    limit = min(profile.max_context, registry.reliability_threshold)
    return GatewayError(
        "context_length_exceeded",
        f"This request needs about {decision.context_tokens} tokens of context, more than "
        f"{_limit_of(registry, profile)}, and the context strategy is 'reject' "
        "(X-Switchpoint-Context-Strategy or summarization_strategy): shorten the "
        "conversation, or allow 'hierarchical' (summarize earlier turns) or 'none' (move to "
        "a longer-context model).",
        param="messages",
        code="context_length_exceeded",
        context=(decision.context_tokens, limit),
    )


def _ensure_fits(
    registry: Registry,
    profile: Profile,
    size: ContextSize,
    rules: list[str],
    notes: list[str],
    outlook: CompressionOutlook | None = None,
) -> Profile:
    if context_fit.holds(profile, size):
        return profile
    replacement = context_fit.replacement(registry, profile, size)
    if replacement is None:
        if not any(p.available for p in registry.profiles.values()):
            # No size would fit "0 tokens": the request is not at fault, the setup is.
            raise no_provider_available(registry)
        raise context_too_large(
            registry, size.tokens(profile), outlook, reserved=size.reserved(profile)
        )
    if not profile.available:
        rules.append(context_fit.UNAVAILABLE)
        notes.append(
            f"provider {profile.provider} is unavailable: {profile.name} -> {replacement.name}"
        )
    else:
        rules.append(context_fit.NAME)
        reserved = size.reserved(profile)
        answer = f" with {reserved} tokens of answer" if reserved else ""
        notes.append(
            f"{size.tokens(profile)} tokens{answer} exceed {profile.name}'s context of "
            f"{profile.max_context}: {profile.name} -> {replacement.name}"
        )
    return replacement


def fallback_chain(registry: Registry, first: Profile, size: ContextSize | int) -> list[str]:
    """`first`, then its fallbacks in order (transitively), keeping those that hold the
    request; each profile appears once."""
    if isinstance(size, int):
        size = UniformSize(size)
    chain = [first.name]
    profiles = registry.profiles
    if size.everywhere:
        chain.extend(n for n in registry.fallback_order(first.name) if profiles[n].available)
        return chain
    fits = size.fits
    for name in registry.fallback_order(first.name):
        candidate = profiles[name]
        # context_fit.holds, inlined: this runs for every fallback of every request.
        if candidate.available and fits(candidate, candidate.max_context):
            chain.append(name)
    return chain


def no_provider_available(registry: Registry) -> GatewayError:
    providers = ", ".join(sorted({p.provider for p in registry.profiles.values()}))
    return GatewayError(
        "unavailable",
        f"no provider can serve this request: every profile's provider ({providers}) is "
        "unavailable, most likely because its API key is not set (see the start-up log)",
    )


def context_too_large(
    registry: Registry,
    tokens: int,
    outlook: CompressionOutlook | None = None,
    *,
    reserved: int = 0,
) -> GatewayError:
    """`reserved`: the answer's tokens (`max_tokens`) the request also needs room for."""
    largest = registry.largest_available_context()
    if outlook is not None and outlook.last_message_tokens > largest:
        return GatewayError(
            "context_length_exceeded",
            f"The last message alone needs about {outlook.last_message_tokens} tokens, but "
            f"the largest context available is {largest} tokens. Only earlier turns can be "
            "summarized: split or shorten that message.",
            param="messages",
            code="context_length_exceeded",
            context=(outlook.last_message_tokens, largest),
        )
    if reserved:
        return GatewayError(
            "context_length_exceeded",
            f"This request needs about {tokens} tokens of context and {reserved} of answer "
            f"(max_tokens), but the largest context available is {largest} tokens. Lower "
            "max_tokens, or shorten or compress the conversation.",
            param="messages",
            code="context_length_exceeded",
            context=(tokens + reserved, largest),
        )
    return GatewayError(
        "context_length_exceeded",
        f"This request needs about {tokens} tokens of context, but the largest context "
        f"available is {largest} tokens. Shorten or compress the conversation.",
        param="messages",
        code="context_length_exceeded",
        context=(tokens, largest),
    )
