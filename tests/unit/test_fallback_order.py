"""The fallback chain: a profile's fallbacks, then theirs, breadth first, each once,
keeping only the profiles that can be called and hold the request."""

from __future__ import annotations

from switchpoint.routing.context_size import UniformSize
from switchpoint.routing.registry import Profile, Registry
from switchpoint.routing.resolve import fallback_chain


def profile(name: str, fallbacks: tuple[str, ...], max_context: int = 100_000,
            available: bool = True) -> Profile:
    return Profile(name=name, model=f"m-{name}", provider="p", max_context=max_context,
                   cost_weight=0.5, fallbacks=fallbacks, routing_rationale="",
                   available=available)


def registry(*profiles: Profile) -> Registry:
    return Registry(
        profiles={p.name: p for p in profiles},
        default_profile=profiles[0].name,
        reliability_threshold=600_000,
        long_context_profile=None,
        budget_fallback_trigger=0.5,
        downgrade_cost_weight_above=0.4,
        budget_profile=None,
        profile_by_model={p.model: p.name for p in profiles},
    )


# a -> b, c; b -> d, a (a cycle back); c -> d, e; d -> b
GRAPH = registry(
    profile("a", ("b", "c")),
    profile("b", ("d", "a"), max_context=50_000),
    profile("c", ("d", "e"), available=False),
    profile("d", ("b",)),
    profile("e", (), max_context=1_000_000),
)


def test_the_order_is_breadth_first_each_once_without_the_first() -> None:
    assert GRAPH.fallback_order("a") == ("b", "c", "d", "e")
    assert GRAPH.fallback_order("d") == ("b", "a", "c", "e")
    assert GRAPH.fallback_order("e") == ()


def test_the_chain_keeps_what_can_be_called_and_holds_the_request() -> None:
    first = GRAPH.profiles["a"]
    # c is unavailable; everything else holds 10k tokens.
    assert fallback_chain(GRAPH, first, 10_000) == ["a", "b", "d", "e"]
    # b holds only 50k; d 100k; e 1M.
    assert fallback_chain(GRAPH, first, 80_000) == ["a", "d", "e"]
    assert fallback_chain(GRAPH, first, 500_000) == ["a", "e"]
    # A request known to fit everywhere is filtered by availability alone.
    assert fallback_chain(GRAPH, first, UniformSize(10, everywhere=True)) == ["a", "b", "d", "e"]
