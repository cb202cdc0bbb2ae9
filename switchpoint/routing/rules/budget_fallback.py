"""`budget_fallback`: a tight budget moves expensive profiles to the budget profile.

As in the seed, a budget constraint below `budget_fallback_trigger` moves a profile whose
cost weight is above `downgrade_cost_weight_above` to the budget profile. Unlike the
seed, the move happens only if the budget profile can hold the request (otherwise it is
recorded as `budget_fallback_blocked`), and moving a profile to itself is not a fallback.
A call moved for its budget (by this rule or the task budget's) falls back only to
profiles this rule would not move it away from: its chain never leads back to them.
"""

from __future__ import annotations

from switchpoint.routing.context_size import ContextSize
from switchpoint.routing.registry import Profile, Registry
from switchpoint.routing.rules.context_fit import holds

NAME = "budget_fallback"
BLOCKED = "budget_fallback_blocked"


def applies(registry: Registry, profile: Profile, budget: float) -> bool:
    return (
        registry.budget_profile is not None
        and budget < registry.budget_fallback_trigger
        and profile.cost_weight > registry.downgrade_cost_weight_above
        and profile.name != registry.budget_profile
    )


def budget_target(registry: Registry, size: ContextSize) -> Profile | None:
    assert registry.budget_profile is not None
    target = registry.profiles[registry.budget_profile]
    return target if holds(target, size) else None


def affordable(registry: Registry, profile: Profile) -> bool:
    """Whether a call moved for its budget may go to `profile`: one this rule would not
    move it away from."""
    return profile.cost_weight <= registry.downgrade_cost_weight_above


def affordable_chain(registry: Registry, chain: list[str]) -> list[str]:
    """`chain` (which starts at the budget profile) less the fallbacks whose cost weight
    is above `downgrade_cost_weight_above`: the profiles a tight budget was moved away
    from. A failure of the budget profile is then answered by a profile within budget,
    or by an error, never by the expensive profile the call left."""
    profiles = registry.profiles
    return chain[:1] + [name for name in chain[1:] if affordable(registry, profiles[name])]
