"""The context rules of `resolve`: strategies, per-profile sizes, what follows a
summarization, and the errors."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from switchpoint.config import load_config
from switchpoint.errors import GatewayError
from switchpoint.routing.context_size import CompressedSize, UniformSize
from switchpoint.routing.decision import CompressionOutlook, RoutingRequest
from switchpoint.routing.registry import Profile, Registry
from switchpoint.routing.resolve import rejected_error, resolve

SEED = Registry.from_config(load_config())


@dataclass
class VendorSize:
    """`base` o200k tokens, counted 1.46x for Claude (its assumed ratio), +-`spread`."""

    base: int
    spread: float = 0.0
    everywhere: bool = False

    def tokens(self, profile: Profile) -> int:
        return int(self.base * (1.46 if "claude" in profile.model else 1.0))

    def fits(self, profile: Profile, limit: int) -> bool:
        return self.tokens(profile) * (1 + self.spread) <= limit

    def reserved(self, profile: Profile) -> int:
        return 0


def outlook(
    profile: str, budget: int, *, compressible: bool = True, **kw: int
) -> CompressionOutlook:
    return CompressionOutlook(
        profile=profile,
        budget=budget,
        compressible=compressible,
        reason="ok" if compressible else str(kw.pop("reason", "nothing_older")),
        summarized_messages=kw.get("summarized", 40),
        last_message_tokens=kw.get("last", 0),
    )


def request(workload: str, tokens: int, **kw: object) -> RoutingRequest:
    return RoutingRequest(workload, tokens, **kw)  # type: ignore[arg-type]


def test_the_default_strategy_summarizes_when_the_conversation_allows() -> None:
    decision = resolve(
        SEED,
        request("terminal_agent", 700_000, outlook=outlook("terminal_agent", 600_000)),
    )
    assert decision.context_action == "summarized"
    assert decision.context_strategy == "hierarchical"
    assert decision.profile == "terminal_agent" and not decision.fallback_triggered
    assert decision.rules == ["context_summarized"]
    assert decision.context_tokens == 700_000 and decision.context_budget == 600_000
    assert decision.effective_max_tokens == 600_000
    assert "40 earlier messages are summarized to fit 600000 tokens" in decision.explanations[0]


def test_without_an_outlook_hierarchical_moves_like_the_seed() -> None:
    decision = resolve(SEED, request("terminal_agent", 700_000))
    assert decision.context_action == "moved" and decision.profile == "deep_research"
    assert decision.rules == ["context_guard"]
    assert "a token count alone" in decision.explanations[0]
    nothing = resolve(
        SEED,
        request(
            "terminal_agent",
            700_000,
            outlook=outlook("terminal_agent", 600_000, compressible=False),
        ),
    )
    assert nothing.context_action == "moved"
    assert "no earlier turns to summarize" in nothing.explanations[0]


def test_an_outlook_for_another_profile_is_not_used() -> None:
    decision = resolve(
        SEED, request("terminal_agent", 700_000, outlook=outlook("deep_research", 600_000))
    )
    assert decision.context_action == "moved"


@pytest.mark.parametrize(
    ("strategy", "action", "profile"),
    [("none", "moved", "deep_research"), ("reject", "rejected", "terminal_agent")],
)
def test_the_request_s_strategy_wins(strategy: str, action: str, profile: str) -> None:
    decision = resolve(
        SEED,
        request(
            "terminal_agent",
            700_000,
            strategy=strategy,
            outlook=outlook("terminal_agent", 600_000),
        ),
    )
    assert decision.context_action == action and decision.profile == profile
    assert decision.context_strategy == strategy


def test_reject_names_the_limit() -> None:
    decision = resolve(SEED, request("cost_sensitive", 200_000, strategy="reject"))
    assert decision.rules == ["context_rejected"] and decision.chain == []
    error = rejected_error(SEED, decision)
    assert error.kind == "context_length_exceeded" and error.status == 400
    assert "cost_sensitive's context of 128000" in error.message
    over_threshold = resolve(SEED, request("terminal_agent", 700_000, strategy="reject"))
    assert "reliability threshold 600000" in rejected_error(SEED, over_threshold).message


def test_a_profile_s_own_strategy() -> None:
    config = load_config().model_copy(deep=True)
    profiles = dict(config.routing.profiles)
    profiles["terminal_agent"] = profiles["terminal_agent"].model_copy(
        update={"summarization_strategy": "reject"}
    )
    routing = config.routing.model_copy(update={"profiles": profiles})
    registry = Registry.from_config(config.model_copy(update={"routing": routing}))
    assert resolve(registry, request("terminal_agent", 700_000)).context_action == "rejected"
    # Other profiles keep the configuration's (hierarchical; a bare count: moved).
    assert resolve(registry, request("cost_sensitive", 200_000)).context_action == "moved"
    # On the long-context profile itself, the seed's guard has nowhere to move to.
    assert resolve(registry, request("deep_research", 700_000)).context_action == "passed"


def test_a_request_under_every_limit_passes_whatever_the_strategy() -> None:
    for strategy in ("hierarchical", "none", "reject"):
        decision = resolve(SEED, request("terminal_agent", 500_000, strategy=strategy))
        assert decision.context_action == "passed" and decision.rules == []


def test_sizes_are_per_vendor() -> None:
    # 150K o200k tokens fit Claude's 200K context by o200k's count but not by Claude's.
    size = VendorSize(150_000)
    decision = resolve(SEED, request("multi_file_refactor", 0, context=size, strategy="none"))
    assert decision.context_action == "moved"
    assert decision.profile == "terminal_agent"  # its first fallback, counted in o200k
    assert decision.context_tokens == 150_000
    # The chain keeps only profiles whose own count of the request fits.
    assert "multi_file_refactor" not in decision.chain


def test_after_summarization_the_chain_holds_the_summarized_size() -> None:
    size = VendorSize(150_000)
    decision = resolve(
        SEED,
        request(
            "cost_sensitive",
            0,
            context=size,
            outlook=outlook("cost_sensitive", 120_000),
        ),
    )
    assert decision.context_action == "summarized" and decision.profile == "cost_sensitive"
    # 120K o200k is about 175K for Claude: it holds in its 200K, as do the 1M models.
    assert decision.chain == [
        "cost_sensitive",
        "deep_research",
        "multi_file_refactor",
        "terminal_agent",
    ]


def test_a_budget_move_after_summarization_must_hold_the_summarized_size() -> None:
    decision = resolve(
        SEED,
        request(
            "terminal_agent",
            700_000,
            budget_constraint=0.1,
            outlook=outlook("terminal_agent", 600_000),
        ),
    )
    # cost_sensitive (128K) cannot hold 600K: the budget rule is blocked, not a truncation.
    assert decision.context_action == "summarized" and decision.profile == "terminal_agent"
    assert decision.rules == ["context_summarized", "budget_fallback_blocked"]
    assert "cannot hold 600000 tokens" in decision.explanations[1]


def test_a_last_message_too_large_for_every_model() -> None:
    with pytest.raises(GatewayError) as raised:
        resolve(
            SEED,
            request(
                "terminal_agent",
                1_500_000,
                outlook=outlook("terminal_agent", 600_000, compressible=False, last=1_400_000),
            ),
        )
    assert raised.value.kind == "context_length_exceeded"
    assert "The last message alone needs about 1400000 tokens" in raised.value.message


def test_compressed_size_scales_other_vendors() -> None:
    size = CompressedSize(VendorSize(300_000), SEED.profiles["terminal_agent"], 100_000)
    assert size.tokens(SEED.profiles["terminal_agent"]) == 100_000
    assert size.tokens(SEED.profiles["multi_file_refactor"]) == 146_000
    assert size.fits(SEED.profiles["multi_file_refactor"], 200_000)
    assert not UniformSize(5).fits(SEED.profiles["cost_sensitive"], 4)


class Everywhere:
    """A small request: fits everywhere, so routing must not even ask."""

    everywhere = True

    def tokens(self, profile: Profile) -> int:
        return 300

    def fits(self, profile: Profile, limit: int) -> bool:
        raise AssertionError("a request that fits everywhere is not measured again")

    def reserved(self, profile: Profile) -> int:
        raise AssertionError("a request that fits everywhere is not measured again")


def test_a_request_known_to_fit_everywhere_skips_the_context_rules() -> None:
    decision = resolve(SEED, request("cost_sensitive", 0, context=Everywhere(), strategy="reject"))
    assert decision.context_action == "passed" and decision.rules == []
    assert decision.chain == [
        "cost_sensitive",
        "deep_research",
        "multi_file_refactor",
        "terminal_agent",
    ]
    down = Registry.from_config(load_config(), unavailable_providers=["openai"])
    moved = resolve(down, request("cost_sensitive", 0, context=Everywhere()))
    assert moved.rules == ["provider_unavailable"] and moved.profile == "deep_research"
