"""`task_budget`: a task whose next call would exceed its budget moves to the budget
profile (`routing.cost.budget_profile`, the seed's cost_sensitive), when that profile
can hold the request; otherwise `task_budget_blocked` records that it could not.

Only fires when admission marks the request over its task budget and
`routing.cost.on_task_budget` is `downgrade`.
"""

from __future__ import annotations

from switchpoint.routing.context_size import ContextSize
from switchpoint.routing.registry import Profile, Registry
from switchpoint.routing.rules.context_fit import holds

NAME = "task_budget"
BLOCKED = "task_budget_blocked"


def target(registry: Registry, profile: Profile, size: ContextSize) -> Profile | None:
    """The profile to move to; None when there is none that helps (no budget profile,
    it cannot hold the request, or the call is already on it)."""
    if registry.budget_profile is None:
        return None
    candidate = registry.profiles[registry.budget_profile]
    if candidate is profile or not holds(candidate, size):
        return None
    return candidate
