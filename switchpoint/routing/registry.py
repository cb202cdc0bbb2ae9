"""The profile registry as routing sees it: an immutable snapshot built from config."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from switchpoint.config.schema import Config


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    model: str
    provider: str
    max_context: int
    cost_weight: float
    fallbacks: tuple[str, ...]
    routing_rationale: str
    # False when the provider cannot be called at all (e.g. its API key is not set).
    available: bool


@dataclass(frozen=True, slots=True)
class Registry:
    profiles: dict[str, Profile]
    default_profile: str
    reliability_threshold: int
    long_context_profile: str | None
    budget_fallback_trigger: float
    downgrade_cost_weight_above: float
    budget_profile: str | None
    # model name -> the profile that owns it (first one in file order)
    profile_by_model: dict[str, str]

    @classmethod
    def from_config(cls, config: Config, unavailable_providers: Iterable[str] = ()) -> Registry:
        down = frozenset(unavailable_providers)
        profiles = {
            name: Profile(
                name=name,
                model=p.model,
                provider=p.provider,
                max_context=p.max_context,
                cost_weight=p.cost_weight,
                fallbacks=p.fallbacks,
                routing_rationale=p.routing_rationale,
                available=p.provider not in down,
            )
            for name, p in config.routing.profiles.items()
        }
        by_model: dict[str, str] = {}
        for name, profile in profiles.items():
            by_model.setdefault(profile.model, name)
        routing = config.routing
        return cls(
            profiles=profiles,
            default_profile=routing.default_profile,
            reliability_threshold=routing.context.reliability_threshold,
            long_context_profile=routing.context.long_context_profile,
            budget_fallback_trigger=routing.cost.budget_fallback_trigger,
            downgrade_cost_weight_above=routing.cost.downgrade_cost_weight_above,
            budget_profile=routing.cost.budget_profile,
            profile_by_model=by_model,
        )

    def largest_available_context(self) -> int:
        sizes = [p.max_context for p in self.profiles.values() if p.available]
        return max(sizes, default=0)
