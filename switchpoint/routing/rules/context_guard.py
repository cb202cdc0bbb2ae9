"""`context_guard`: above the reliability threshold, work moves to the long-context profile.

Models lose reliability well before their nominal maximum (the seed's 600K tokens on 1M
models), so a request above the threshold goes to the profile configured as best at long
context, provided that profile can hold it. (This is the `none` strategy; see
`context_strategy` for the others.)
"""

from __future__ import annotations

from switchpoint.routing.context_size import ContextSize
from switchpoint.routing.registry import Profile, Registry
from switchpoint.routing.rules.context_fit import holds

NAME = "context_guard"


def long_context_target(registry: Registry, profile: Profile, size: ContextSize) -> Profile | None:
    """The profile to move to, or None when the guard does not fire or cannot help."""
    if size.tokens(profile) <= registry.reliability_threshold:
        return None
    if registry.long_context_profile is None:
        return None
    target = registry.profiles[registry.long_context_profile]
    if target is profile or not holds(target, size):
        return None
    return target
