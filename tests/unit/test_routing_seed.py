"""The seed article's `resolveRouting`, case by case, and the cases where it was unsafe."""

from __future__ import annotations

import pytest

from switchpoint.config import load_config
from switchpoint.config.loader import parse_config
from switchpoint.errors import GatewayError
from switchpoint.routing.decision import RoutingRequest
from switchpoint.routing.registry import Registry
from switchpoint.routing.resolve import resolve

SEED = Registry.from_config(load_config())


def decide(workload: str, tokens: int, budget: float = 1.0, registry: Registry = SEED):  # type: ignore[no-untyped-def]
    return resolve(registry, RoutingRequest(workload, tokens, budget))


# (workload, tokens, budget) -> (model, provider, fallback_triggered, effective_max_tokens)
SEED_CASES = [
    # Base profiles, no guard fires.
    ("terminal_agent", 100_000, 1.0, "gpt-5.5", "openai", False, 100_000),
    ("multi_file_refactor", 150_000, 1.0, "claude-opus-4-7", "anthropic", False, 150_000),
    ("deep_research", 500_000, 1.0, "gemini-3.1-pro", "google", False, 500_000),
    ("cost_sensitive", 50_000, 1.0, "gpt-5.4", "openai", False, 50_000),
    # Context guard: gpt-5.5 work above 600K moves to the long-context profile.
    ("terminal_agent", 700_000, 1.0, "gemini-3.1-pro", "google", True, 700_000),
    # Exactly at the threshold the guard does not fire (seed: strictly greater).
    ("terminal_agent", 600_000, 1.0, "gpt-5.5", "openai", False, 600_000),
    # Budget below the trigger moves cost weight > 0.7 to cost_sensitive.
    ("terminal_agent", 100_000, 0.3, "gpt-5.4", "openai", True, 100_000),
    ("deep_research", 100_000, 0.3, "gpt-5.4", "openai", True, 100_000),
    # Cost weight 0.6 is not above 0.7: no downgrade.
    ("multi_file_refactor", 100_000, 0.3, "claude-opus-4-7", "anthropic", False, 100_000),
    # Budget exactly at the trigger: the seed's `<` does not fire.
    ("terminal_agent", 100_000, 0.5, "gpt-5.5", "openai", False, 100_000),
]


@pytest.mark.parametrize(
    ("workload", "tokens", "budget", "model", "provider", "fallback", "effective"), SEED_CASES
)
def test_seed_decision_table(
    workload: str,
    tokens: int,
    budget: float,
    model: str,
    provider: str,
    fallback: bool,
    effective: int,
) -> None:
    decision = decide(workload, tokens, budget)
    assert (decision.model, decision.provider) == (model, provider)
    assert decision.fallback_triggered is fallback
    assert decision.effective_max_tokens == effective


def test_context_guard_and_rationale_reported() -> None:
    decision = decide("terminal_agent", 700_000)
    assert decision.rules == ["context_guard"]
    assert decision.routing_rationale == "Best-in-class web-browsing and BrowseComp performance"
    assert decision.requested_profile == "terminal_agent"
    assert decision.profile == "deep_research"


def test_fixed_budget_downgrade_never_drops_below_context() -> None:
    # Seed: 700K terminal work -> deep_research -> cost_sensitive (128K), effective 128K:
    # a silent truncation of 572K tokens. Fixed: the downgrade is blocked.
    decision = decide("terminal_agent", 700_000, 0.3)
    assert decision.model == "gemini-3.1-pro"
    assert decision.effective_max_tokens == 700_000
    assert decision.rules == ["context_guard", "budget_fallback_blocked"]


def test_fixed_small_model_is_never_sent_a_larger_context() -> None:
    # Seed: claude (200K) keeps 300K work and clamps it to 200K. Fixed: next in chain.
    decision = decide("multi_file_refactor", 300_000)
    assert decision.model == "gpt-5.5"
    assert decision.effective_max_tokens == 300_000
    assert decision.rules == ["context_fit"]
    assert decision.fallback_triggered


def test_fixed_cost_sensitive_over_its_context_moves_along_its_chain() -> None:
    decision = decide("cost_sensitive", 200_000)
    assert decision.profile == "deep_research"
    assert decision.rules == ["context_fit"]


def test_fixed_budget_rule_moving_a_profile_to_itself_is_not_a_fallback() -> None:
    # Seed: cost_sensitive (weight 1.0 > 0.7) with budget 0.3 sets fallbackTriggered.
    decision = decide("cost_sensitive", 10_000, 0.2)
    assert decision.model == "gpt-5.4"
    assert decision.fallback_triggered is False
    assert decision.rules == []


def test_nothing_fits_is_a_context_length_error_naming_sizes() -> None:
    with pytest.raises(GatewayError) as caught:
        decide("terminal_agent", 1_200_000)
    error = caught.value
    assert error.kind == "context_length_exceeded"
    assert error.status == 400
    assert "1200000" in error.message and "1000000" in error.message


def test_every_profile_in_the_chain_holds_the_request() -> None:
    for workload in SEED.profiles:
        for tokens in (1_000, 150_000, 250_000, 700_000, 1_000_000):
            decision = decide(workload, tokens)
            assert decision.chain[0] == decision.profile
            assert len(set(decision.chain)) == len(decision.chain)
            for name in decision.chain:
                assert SEED.profiles[name].max_context >= tokens


def test_unavailable_provider_is_routed_around() -> None:
    registry = Registry.from_config(load_config(), unavailable_providers=["openai"])
    decision = decide("terminal_agent", 10_000, registry=registry)
    assert decision.provider != "openai"
    assert decision.rules == ["provider_unavailable"]
    assert all(registry.profiles[p].provider != "openai" for p in decision.chain)


def test_largest_available_context_ignores_unavailable_providers() -> None:
    registry = Registry.from_config(load_config(), unavailable_providers=["openai", "google"])
    with pytest.raises(GatewayError) as caught:
        decide("multi_file_refactor", 300_000, registry=registry)
    assert "largest context available is 200000" in caught.value.message


def test_thresholds_are_configuration_not_code() -> None:
    config = parse_config(
        {
            "routing": {
                "context": {"reliability_threshold": 100_000},
                "cost": {"budget_fallback_trigger": 0.9, "downgrade_cost_weight_above": 0.5},
            }
        }
    )
    registry = Registry.from_config(config)
    assert decide("terminal_agent", 150_000, registry=registry).profile == "deep_research"
    assert decide("multi_file_refactor", 1_000, 0.8, registry=registry).profile == (
        "cost_sensitive"
    )


def test_unknown_workload_is_a_client_error() -> None:
    with pytest.raises(GatewayError) as caught:
        decide("nope", 10)
    assert caught.value.status == 400
    assert "terminal_agent" in caught.value.message


def test_pinned_model_skips_guard_and_budget_but_not_fit() -> None:
    pinned = resolve(SEED, RoutingRequest("terminal_agent", 700_000, 0.1, pinned=True))
    assert pinned.model == "gpt-5.5"
    assert pinned.rules == []
    too_big = resolve(SEED, RoutingRequest("cost_sensitive", 200_000, 1.0, pinned=True))
    assert too_big.model != "gpt-5.4"


def test_a_call_moved_for_its_budget_never_falls_back_to_what_it_left() -> None:
    # Seed: terminal_agent (0.8) with budget 0.3 moves to cost_sensitive, whose own
    # chain (deep_research 0.9, multi_file_refactor 0.6) would lead a failure back to a
    # profile the budget rule moves calls away from. Only those within budget remain.
    moved = decide("terminal_agent", 1_000, 0.3)
    assert moved.profile == "cost_sensitive"
    assert moved.chain == ["cost_sensitive", "multi_file_refactor"]
    assert all(SEED.profiles[name].cost_weight <= 0.7 for name in moved.chain[1:])
    # Without the move, the whole chain stands.
    assert "deep_research" in decide("terminal_agent", 1_000, 1.0).chain
    # A task over its budget is moved the same way, with the same chain.
    over = resolve(SEED, RoutingRequest("terminal_agent", 1_000, 1.0, over_task_budget=True))
    assert (over.profile, over.chain) == (
        "cost_sensitive",
        ["cost_sensitive", "multi_file_refactor"],
    )
