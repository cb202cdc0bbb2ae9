"""The profile registry as routing sees it: an immutable snapshot built from config."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from switchpoint.config.schema import Config, SummarizationStrategy


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
    # The profile's own `summarization_strategy` (None: the context section's).
    summarization_strategy: SummarizationStrategy | None = None


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
    summarization_strategy: SummarizationStrategy = "hierarchical"
    # The profile that writes summaries (`routing.context.summarizer_profile`, else
    # cost_sensitive if configured, else the default profile).
    summarizer_profile: str | None = None
    # First profile -> the profiles its fallbacks reach (transitively, breadth first,
    # each once). Worked out with the registry, which never changes: the walk used to
    # run on every routing decision.
    _fallback_orders: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        orders = {name: _breadth_first(self.profiles, name) for name in self.profiles}
        object.__setattr__(self, "_fallback_orders", orders)

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
                summarization_strategy=p.summarization_strategy,
            )
            for name, p in config.routing.profiles.items()
        }
        by_model: dict[str, str] = {}
        for name, profile in profiles.items():
            by_model.setdefault(profile.model, name)
        routing = config.routing
        summarizer = routing.context.summarizer_profile
        if summarizer is None or summarizer not in profiles:
            summarizer = "cost_sensitive" if "cost_sensitive" in profiles else None
        if summarizer is None and routing.default_profile in profiles:
            summarizer = routing.default_profile
        return cls(
            profiles=profiles,
            default_profile=routing.default_profile,
            reliability_threshold=routing.context.reliability_threshold,
            long_context_profile=routing.context.long_context_profile,
            budget_fallback_trigger=routing.cost.budget_fallback_trigger,
            downgrade_cost_weight_above=routing.cost.downgrade_cost_weight_above,
            budget_profile=routing.cost.budget_profile,
            profile_by_model=by_model,
            summarization_strategy=routing.context.summarization_strategy,
            summarizer_profile=summarizer,
        )

    def strategy_for(
        self, profile: Profile, requested: SummarizationStrategy | None = None
    ) -> SummarizationStrategy:
        """The request's header, else the profile's own, else the context section's."""
        return requested or profile.summarization_strategy or self.summarization_strategy

    def largest_available_context(self) -> int:
        sizes = [p.max_context for p in self.profiles.values() if p.available]
        return max(sizes, default=0)

    def fallback_order(self, first: str) -> tuple[str, ...]:
        """The profiles `first`'s fallbacks reach, in order: its own fallbacks, then
        theirs, breadth first; each once, `first` excluded."""
        return self._fallback_orders[first]


def _breadth_first(profiles: dict[str, Profile], first: str) -> tuple[str, ...]:
    order: list[str] = []
    seen = {first}
    queue = list(profiles[first].fallbacks)
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        seen.add(name)
        order.append(name)
        queue.extend(profiles[name].fallbacks)
    return tuple(order)
