"""Budget accounting and admission, in memory: reservations, settlement, sync, periods."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import pytest

from switchpoint.budgets.account import Account, Spend
from switchpoint.budgets.admission import Admission, TaskRequest
from switchpoint.budgets.estimate import CostEstimator, requested_max_output
from switchpoint.budgets.key_budgets import KeyBudgets
from switchpoint.budgets.task_budgets import TaskBudgets
from switchpoint.chat.usage import Usage
from switchpoint.config.loader import parse_config
from switchpoint.config.schema import ModelConfig, TaskBudgetConfig
from switchpoint.errors import GatewayError
from switchpoint.execution.records import AttemptRecord, CallRecord
from switchpoint.keys.access import Principal
from switchpoint.keys.periods import describe_reset, period_bounds
from switchpoint.ledger.key_records import KeyRecord
from switchpoint.routing.decision import RoutingDecision, RoutingRequest
from switchpoint.routing.registry import Registry
from switchpoint.routing.resolve import resolve

# $1 per million input tokens, $10 per million output tokens: easy to compute by hand.
MODELS = {
    "big": ModelConfig(input_usd_per_mtok=10.0, output_usd_per_mtok=100.0),
    "small": ModelConfig(input_usd_per_mtok=1.0, output_usd_per_mtok=10.0),
}


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


# --- periods --------------------------------------------------------------------------
def test_periods_are_utc_calendar_periods() -> None:
    now = ts("2026-03-18T15:30:00")  # a Wednesday
    day, end = period_bounds("day", now)
    assert day * 86_400 == ts("2026-03-18T00:00:00") and end == ts("2026-03-19T00:00:00")
    week, end = period_bounds("week", now)
    assert week * 86_400 == ts("2026-03-16T00:00:00") and end == ts("2026-03-23T00:00:00")
    month, end = period_bounds("month", now)
    assert month * 86_400 == ts("2026-03-01T00:00:00") and end == ts("2026-04-01T00:00:00")
    _, end = period_bounds("month", ts("2026-12-31T23:59:59"))
    assert end == ts("2027-01-01T00:00:00")
    assert period_bounds("total", now) == (0, math.inf)
    assert describe_reset("month", end) == "it resets at 2027-01-01T00:00Z"
    assert describe_reset("total", math.inf) == "it does not reset"


# --- spend as one process sees it ---------------------------------------------------------
def test_spend_is_the_database_total_plus_what_is_not_written_yet() -> None:
    spend = Spend()
    spend.settled += 3.0  # three calls settled here...
    assert spend.value() == 3.0
    spend.committed += 2.0  # ...two of them written
    spend.synced(0, 10.0)  # the database holds 10 (8 from other workers)
    assert spend.value() == pytest.approx(11.0)
    spend.committed += 1.0  # the third is written; until the next sync nothing changes
    assert spend.value() == pytest.approx(11.0)
    spend.synced(0, 11.5)  # another worker spent 0.5 meanwhile
    assert spend.value() == pytest.approx(11.5)


def test_a_new_period_starts_from_what_was_settled_since() -> None:
    spend = Spend(period=100)
    spend.settled += 5.0
    spend.synced(100, 50.0)
    assert spend.value() == 55.0
    spend.roll(101)
    assert spend.value() == 0.0
    spend.settled += 1.0
    assert spend.value() == 1.0
    spend.committed += 6.0
    spend.synced(101, 1.0)
    assert spend.value() == 1.0


def test_headroom_counts_reservations() -> None:
    account = Account(limit=10.0)
    account.spend.settled = 4.0
    account.reserved = 5.0
    assert account.headroom() == pytest.approx(1.0)
    assert account.left() == pytest.approx(6.0)
    assert Account().headroom() == math.inf


# --- estimates ----------------------------------------------------------------------------
def test_estimate_uses_the_requested_output_limit_else_the_configured_reserve() -> None:
    estimator = CostEstimator(MODELS, reserve_output_tokens=500)
    assert requested_max_output({"max_completion_tokens": 20, "max_tokens": 99}) == 20
    assert requested_max_output({"max_tokens": 7}) == 7
    assert requested_max_output({"generationConfig": {"maxOutputTokens": 9}}) == 9
    assert requested_max_output({"max_tokens": True}) is None
    with_limit = estimator.estimate("small", 1000, 100)
    assert with_limit.tokens == 1100
    assert with_limit.usd == pytest.approx((1000 * 1.0 + 100 * 10.0) / 1e6)
    assert estimator.estimate("small", 1000, None).tokens == 1500
    assert estimator.estimate("no-price", 1000, None).usd == 0.0


# --- admission ----------------------------------------------------------------------------
REGISTRY_DOC = {
    "providers": {"sim": {"type": "simulated"}},
    "models": {"big": {}, "small": {}},
    "routing": {
        "default_profile": "premium",
        "cost": {"budget_profile": "cheap"},
        "profiles": {
            "premium": {"model": "big", "provider": "sim", "max_context": 100_000,
                        "cost_weight": 0.9, "fallbacks": ["cheap"]},
            "cheap": {"model": "small", "provider": "sim", "max_context": 8_000,
                      "cost_weight": 1.0},
        },
    },
}  # fmt: skip


def registry() -> Registry:
    return Registry.from_config(parse_config(REGISTRY_DOC))


def router(tokens: int = 1000, *, pinned: bool = False):  # type: ignore[no-untyped-def]
    reg = registry()

    def route(over: bool) -> tuple[RoutingDecision, int]:
        request = RoutingRequest("premium", tokens, pinned=pinned, over_task_budget=over)
        return resolve(reg, request), tokens

    return route


def admission(
    mode: str = "downgrade", defaults: dict[str, TaskBudgetConfig] | None = None
) -> Admission:
    return Admission(
        KeyBudgets(),
        TaskBudgets(defaults or {}),
        CostEstimator(MODELS, reserve_output_tokens=1000),
        on_task_budget=mode,  # type: ignore[arg-type]
        reservation_ttl_s=60,
    )


_ids = iter(range(10**9))


def new_call() -> CallRecord:
    return CallRecord(
        request_id=f"r{next(_ids)}", protocol="openai", stream=False,
        started_wall=time.time(), started_at=time.perf_counter(),
    )  # fmt: skip


def finish(call: CallRecord, model: str, usage: Usage) -> CallRecord:
    attempt = AttemptRecord("p", "sim", model, "first", time.perf_counter(), usage=usage)
    price = MODELS[model]
    assert price.input_usd_per_mtok is not None and price.output_usd_per_mtok is not None
    attempt.cost_usd = (
        usage.input_tokens * price.input_usd_per_mtok
        + usage.output_tokens * price.output_usd_per_mtok
    ) / 1e6
    call.attempts.append(attempt)
    return call


def key(budget: float | None, period: str = "month") -> Principal:
    record = KeyRecord("k1", "h", None, "team-a", budget, period, time.time())
    return Principal(record.key_id, record.team, record)


# Premium call with 1000 context tokens and the 1000-token reserve: 2000 tokens,
# 1000 * $10 + 1000 * $100 per million = $0.11.
PREMIUM_ESTIMATE_USD = 0.11


def test_a_task_within_budget_is_routed_as_asked_and_reserves_its_estimate() -> None:
    gate = admission()
    call = new_call()
    decision, _ = gate.admit(
        call, Principal(), TaskRequest("t", budget_tokens=10_000), router(), None
    )
    assert decision.profile == "premium"
    assert decision.rules == []
    account = gate.tasks.get("t")
    assert account is not None
    assert account.tokens.reserved == 2000
    assert call.task_budget_tokens == 10_000
    gate.settle(finish(call, "big", Usage(input_tokens=900, output_tokens=50)))
    assert account.tokens.reserved == 0
    assert account.tokens.spent == 950
    assert account.usd.spent == pytest.approx((900 * 10 + 50 * 100) / 1e6)


def test_downgrade_mode_moves_a_call_that_would_not_fit_to_the_budget_profile() -> None:
    gate = admission("downgrade")
    account = gate.tasks.account("t", tokens=3000, usd=None, workload="premium")
    account.tokens.spend.settled = 1500  # 1500 left; the premium call needs about 2000
    decision, _ = gate.admit(new_call(), Principal(), TaskRequest("t"), router(), None)
    assert decision.profile == "cheap"
    assert decision.requested_profile == "premium"
    assert "task_budget" in decision.rules
    assert decision.fallback_triggered
    assert gate.downgrades_total == 1


def test_downgrade_mode_refuses_once_the_budget_is_spent() -> None:
    gate = admission("downgrade")
    account = gate.tasks.account("t", tokens=None, usd=1.0, workload="premium")
    account.usd.spend.settled = 1.0
    with pytest.raises(GatewayError) as raised:
        gate.admit(new_call(), Principal(), TaskRequest("t"), router(), None)
    error = raised.value
    assert error.kind == "budget_exceeded" and error.status == 429
    assert "task budget exceeded" in error.message
    assert "USD budget is spent" in error.message
    assert "$0.0000 left" in error.message
    assert gate.rejections_total["task"] == 1


def test_reject_mode_refuses_a_call_that_would_not_fit() -> None:
    gate = admission("reject")
    account = gate.tasks.account("t", tokens=3000, usd=None, workload="premium")
    account.tokens.spend.settled = 1500
    with pytest.raises(GatewayError) as raised:
        gate.admit(new_call(), Principal(), TaskRequest("t"), router(), None)
    assert "would exceed its token budget" in raised.value.message
    assert "1,500 tokens left" in raised.value.message


def test_a_pinned_model_is_not_moved_but_is_still_stopped_at_exhaustion() -> None:
    gate = admission("downgrade")
    account = gate.tasks.account("t", tokens=3000, usd=None, workload="premium")
    account.tokens.spend.settled = 1500
    decision, _ = gate.admit(new_call(), Principal(), TaskRequest("t"), router(pinned=True), None)
    assert decision.profile == "premium"
    assert "task_budget_blocked" in decision.rules
    account.tokens.spend.settled = 3000
    with pytest.raises(GatewayError):
        gate.admit(new_call(), Principal(), TaskRequest("t"), router(pinned=True), None)


def test_a_budget_profile_too_small_for_the_context_blocks_the_downgrade() -> None:
    gate = admission("downgrade")
    gate.tasks.account("t", tokens=None, usd=0.5, workload="premium").usd.spend.settled = 0.45
    decision, _ = gate.admit(new_call(), Principal(), TaskRequest("t"), router(tokens=20_000), None)
    assert decision.profile == "premium"
    assert decision.rules == ["task_budget_blocked"]


def test_workload_defaults_apply_and_a_header_overrides_them() -> None:
    gate = admission(defaults={"premium": TaskBudgetConfig(tokens=5000)})
    call = new_call()
    gate.admit(call, Principal(), TaskRequest("t"), router(), None)
    assert call.task_budget_tokens == 5000
    account = gate.tasks.get("t")
    assert account is not None and account.source == "default"
    call = new_call()
    gate.admit(call, Principal(), TaskRequest("t", budget_usd=2.5), router(), None)
    # The header declares USD; the default's token budget stays in force beside it.
    assert call.task_budget_usd == 2.5 and call.task_budget_tokens == 5000
    assert account.source == "header"


def test_key_budget_admits_calls_while_reservations_fit() -> None:
    gate = admission()
    principal = key(budget=10 * PREMIUM_ESTIMATE_USD + 1e-9)
    admitted = []
    for _ in range(25):
        call = new_call()
        try:
            gate.admit(call, principal, None, router(), None)
        except GatewayError as error:
            assert error.kind == "budget_exceeded"
            assert "key budget exceeded: virtual key k1 (team team-a)" in error.message
            continue
        admitted.append(call)
    # 25 calls in flight at once: only what the budget holds is let through.
    assert len(admitted) == 10
    account = gate.keys.get("k1")
    assert account is not None
    assert account.usd.reserved == pytest.approx(10 * PREMIUM_ESTIMATE_USD)
    for call in admitted:
        gate.settle(finish(call, "big", Usage(input_tokens=1000, output_tokens=1000)))
    assert account.usd.reserved == pytest.approx(0.0, abs=1e-12)
    assert account.usd.spent == pytest.approx(10 * PREMIUM_ESTIMATE_USD)
    with pytest.raises(GatewayError) as raised:
        gate.admit(new_call(), principal, None, router(), None)
    assert "$0.0000 left of its monthly budget of $1.1000" in raised.value.message
    assert "it resets at" in raised.value.message


def test_a_key_without_a_budget_is_not_limited() -> None:
    gate = admission()
    for _ in range(100):
        gate.admit(new_call(), key(budget=None), None, router(), None)
    assert gate.reservations_in_flight == 0


def test_a_call_that_never_reports_back_releases_its_reservation_after_its_ttl() -> None:
    gate = admission()
    gate.reservation_ttl_s = 0.0
    principal = key(budget=1.0)
    gate.admit(new_call(), principal, None, router(), None)
    account = gate.keys.get("k1")
    assert account is not None and account.usd.reserved > 0
    gate.reservation_ttl_s = 60.0
    gate._next_sweep = 0.0  # the sweep is due
    gate.admit(new_call(), principal, None, router(), None)
    assert gate.expired_reservations_total == 1
    assert account.usd.reserved == pytest.approx(PREMIUM_ESTIMATE_USD)


def test_task_accounts_are_forgotten_least_recently_used_first() -> None:
    tasks = TaskBudgets({}, max_tasks=3)
    for name in "abcd":
        tasks.account(name, tokens=None, usd=None, workload="premium")
    assert tasks.get("a") is None
    tasks.account("b", tokens=None, usd=None, workload="premium")
    tasks.account("e", tokens=None, usd=None, workload="premium")
    assert tasks.get("b") is not None and tasks.get("c") is None


def test_declaring_one_dimension_of_a_task_budget_keeps_the_other() -> None:
    # The workload's default caps USD; a header that declares only tokens must not lift it.
    tasks = TaskBudgets({"premium": TaskBudgetConfig(usd=0.5)})
    account = tasks.account("t", tokens=100_000_000, usd=None, workload="premium")
    assert (account.tokens.limit, account.usd.limit) == (100_000_000, 0.5)
    # A later declaration of USD alone keeps the declared tokens.
    account = tasks.account("t", tokens=None, usd=2.0, workload="premium")
    assert (account.tokens.limit, account.usd.limit) == (100_000_000, 2.0)
    assert account.source == "header"
