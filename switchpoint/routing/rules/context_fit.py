"""`context_fit`: never route to a model whose context the request exceeds.

The seed clamps `effectiveMaxTokens` to the model's maximum, which silently truncates;
here a profile that cannot hold the request (or cannot be called) is replaced by the
next one in its fallback chain that can, then by the long-context profile, then by the
smallest other profile that fits.
"""

from __future__ import annotations

from switchpoint.routing.registry import Profile, Registry

NAME = "context_fit"
UNAVAILABLE = "provider_unavailable"


def holds(profile: Profile, tokens: int) -> bool:
    return profile.available and tokens <= profile.max_context


def replacement(registry: Registry, profile: Profile, tokens: int) -> Profile | None:
    profiles = registry.profiles
    for name in profile.fallbacks:
        candidate = profiles[name]
        if holds(candidate, tokens):
            return candidate
    if registry.long_context_profile is not None:
        candidate = profiles[registry.long_context_profile]
        if candidate is not profile and holds(candidate, tokens):
            return candidate
    fitting = [p for p in profiles.values() if p is not profile and holds(p, tokens)]
    if not fitting:
        return None
    return min(fitting, key=lambda p: (p.max_context, p.name))
