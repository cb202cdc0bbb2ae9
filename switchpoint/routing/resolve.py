"""`resolve`: the seed's `resolveRouting`, configurable and safe.

Order, as in the seed: the context guard, then the budget rule (then the task budget
rule, when admission asks for it); after every step the
chosen profile must hold the request (`context_fit`). The result also carries the chain
of profiles execution may fail over to, each of which holds the request too.
"""

from __future__ import annotations

from switchpoint.errors import GatewayError
from switchpoint.routing.decision import RoutingDecision, RoutingRequest
from switchpoint.routing.registry import Profile, Registry
from switchpoint.routing.rules import budget_fallback, context_fit, context_guard, task_budget


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
    tokens = request.estimated_context_tokens
    rules: list[str] = []
    notes: list[str] = []
    profile = requested

    moved = None if request.pinned else context_guard.long_context_target(registry, profile, tokens)
    if moved is not None:
        rules.append(context_guard.NAME)
        notes.append(
            f"{tokens} tokens exceed the reliability threshold "
            f"{registry.reliability_threshold}: {profile.name} -> {moved.name}"
        )
        profile = moved

    profile = _ensure_fits(registry, profile, tokens, rules, notes)

    if not request.pinned and budget_fallback.applies(registry, profile, request.budget_constraint):
        target = budget_fallback.budget_target(registry, tokens)
        if target is not None:
            rules.append(budget_fallback.NAME)
            notes.append(
                f"budget {request.budget_constraint} is below "
                f"{registry.budget_fallback_trigger} and cost weight {profile.cost_weight} is "
                f"above {registry.downgrade_cost_weight_above}: {profile.name} -> {target.name}"
            )
            profile = target
        else:
            rules.append(budget_fallback.BLOCKED)
            notes.append(
                f"budget profile {registry.budget_profile} cannot hold {tokens} tokens: "
                f"staying on {profile.name}"
            )

    if request.over_task_budget:
        cheaper = None if request.pinned else task_budget.target(registry, profile, tokens)
        if cheaper is not None:
            rules.append(task_budget.NAME)
            notes.append(
                f"the task's next call would exceed its budget: {profile.name} -> {cheaper.name}"
            )
            profile = cheaper
        elif profile.name != registry.budget_profile:
            rules.append(task_budget.BLOCKED)
            reason = (
                "the client pinned a model"
                if request.pinned
                else f"budget profile {registry.budget_profile} cannot hold {tokens} tokens"
                if registry.budget_profile is not None
                else "no budget profile is configured"
            )
            notes.append(
                f"the task's next call would exceed its budget, but {reason}: "
                f"staying on {profile.name}"
            )

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
        chain=fallback_chain(registry, profile, tokens),
    )


def _ensure_fits(
    registry: Registry, profile: Profile, tokens: int, rules: list[str], notes: list[str]
) -> Profile:
    if context_fit.holds(profile, tokens):
        return profile
    replacement = context_fit.replacement(registry, profile, tokens)
    if replacement is None:
        raise context_too_large(registry, tokens)
    if not profile.available:
        rules.append(context_fit.UNAVAILABLE)
        notes.append(
            f"provider {profile.provider} is unavailable: {profile.name} -> {replacement.name}"
        )
    else:
        rules.append(context_fit.NAME)
        notes.append(
            f"{tokens} tokens exceed {profile.name}'s context of {profile.max_context}: "
            f"{profile.name} -> {replacement.name}"
        )
    return replacement


def fallback_chain(registry: Registry, first: Profile, tokens: int) -> list[str]:
    """`first`, then its fallbacks in order (transitively), keeping those that hold the
    request; each profile appears once."""
    chain = [first.name]
    seen = {first.name}
    queue = list(first.fallbacks)
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        seen.add(name)
        candidate = registry.profiles[name]
        if context_fit.holds(candidate, tokens):
            chain.append(name)
        queue.extend(candidate.fallbacks)
    return chain


def context_too_large(registry: Registry, tokens: int) -> GatewayError:
    largest = registry.largest_available_context()
    return GatewayError(
        "context_length_exceeded",
        f"This request needs about {tokens} tokens of context, but the largest context "
        f"available is {largest} tokens. Shorten or compress the conversation.",
        param="messages",
        code="context_length_exceeded",
    )
