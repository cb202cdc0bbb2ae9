"""`context_fit`: never route to a model whose context the request exceeds.

The seed clamps `effectiveMaxTokens` to the model's maximum, which silently truncates;
here a profile that cannot hold the request (or cannot be called) is replaced by the
next one in its fallback chain that can, then by the long-context profile, then by the
smallest other profile that fits. "Holds" is judged on the upper end of the request's
count for that profile's model (`ContextSize.fits`).
"""

from __future__ import annotations

from switchpoint.routing.context_size import ContextSize
from switchpoint.routing.registry import Profile, Registry

NAME = "context_fit"
UNAVAILABLE = "provider_unavailable"


def holds(profile: Profile, size: ContextSize) -> bool:
    return profile.available and (size.everywhere or size.fits(profile, profile.max_context))


def replacement(registry: Registry, profile: Profile, size: ContextSize) -> Profile | None:
    profiles = registry.profiles
    for name in profile.fallbacks:
        candidate = profiles[name]
        if holds(candidate, size):
            return candidate
    if registry.long_context_profile is not None:
        candidate = profiles[registry.long_context_profile]
        if candidate is not profile and holds(candidate, size):
            return candidate
    fitting = [p for p in profiles.values() if p is not profile and holds(p, size)]
    if not fitting:
        return None
    return min(fitting, key=lambda p: (p.max_context, p.name))
