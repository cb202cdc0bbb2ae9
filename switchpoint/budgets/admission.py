"""The admission step: after routing and before execution, check the call's budgets.

For a task with a budget whose next call would not fit (its estimate exceeds what is
left): with `on_task_budget: downgrade`, routing is asked again with the task marked
over budget, and its `task_budget` rule moves the call to the budget profile; once the
budget is spent outright, calls are refused. With `reject`, the call is refused at once.
A virtual key's budget is never downgraded around: a call that does not fit is refused.

Admitted calls reserve their estimate on the key and task; when the call ends the
reservation is released and the actual tokens and cost are added. Concurrent calls
therefore see each other's reservations, so a key can only overspend by what calls in
flight cost beyond their estimates.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from switchpoint.budgets.account import Account
from switchpoint.budgets.estimate import CostEstimator, Estimate
from switchpoint.budgets.key_budgets import KeyAccount, KeyBudgets
from switchpoint.budgets.task_budgets import TaskAccount, TaskBudgets
from switchpoint.compaction.planning import SummarizationWork
from switchpoint.errors import GatewayError
from switchpoint.execution.records import CallRecord
from switchpoint.keys.access import Principal
from switchpoint.keys.periods import describe_reset
from switchpoint.routing.decision import RoutingDecision

# Routing for this call; True asks for the task-over-budget variant.
RouteFn = Callable[[bool], tuple[RoutingDecision, int]]
# Work a decision entails besides its own call, on another model: summarizing the
# earlier turns. None: nothing more.
ExtraWork = Callable[[RoutingDecision], SummarizationWork | None]
Verdict = Literal["fits", "over", "exhausted"]

_SWEEP_EVERY_S = 30.0


@dataclass(frozen=True, slots=True)
class TaskRequest:
    task_id: str
    budget_tokens: int | None = None
    budget_usd: float | None = None


@dataclass(slots=True)
class Reservation:
    key: KeyAccount | None
    task: TaskAccount | None
    usd: float
    tokens: int
    expires: float


def _usd(amount: float) -> str:
    return f"${amount:,.4f}" if abs(amount) < 100 else f"${amount:,.2f}"


def _tokens(amount: float) -> str:
    return f"{amount:,.0f} tokens"


class Admission:
    def __init__(
        self,
        keys: KeyBudgets,
        tasks: TaskBudgets,
        estimator: CostEstimator,
        *,
        on_task_budget: Literal["downgrade", "reject"],
        reservation_ttl_s: float,
    ) -> None:
        self.keys = keys
        self.tasks = tasks
        self.estimator = estimator
        self.on_task_budget = on_task_budget
        self.reservation_ttl_s = reservation_ttl_s
        self._reservations: dict[str, Reservation] = {}
        self._next_sweep = time.monotonic() + _SWEEP_EVERY_S
        # --- metrics ---
        self.downgrades_total = 0
        self.rejections_total: dict[str, int] = {"task": 0, "key": 0}
        self.expired_reservations_total = 0

    @property
    def reservations_in_flight(self) -> int:
        return len(self._reservations)

    def admit(
        self,
        call: CallRecord,
        principal: Principal,
        task: TaskRequest | None,
        route: RouteFn,
        max_output: int | None,
        extra: ExtraWork | None = None,
    ) -> tuple[RoutingDecision, int]:
        """The decision to execute (possibly downgraded), with its context size; raises
        a `budget_exceeded` GatewayError when a budget refuses the call. `extra`: what
        else the decision costs (its summarization), reserved with it."""
        decision, tokens = route(False)
        task_account: TaskAccount | None = None
        if task is not None:
            task_account = self.tasks.account(
                task.task_id,
                tokens=task.budget_tokens,
                usd=task.budget_usd,
                workload=decision.requested_profile,
            )
            if not task_account.limited:
                task_account = None  # its spend is still counted when the call settles
        record = principal.record
        if record is not None and record.budget_usd is None:
            record = None
        if task_account is None and record is None:
            return decision, tokens  # no budget applies: nothing to estimate or reserve
        estimate = self._estimate(decision, tokens, max_output, extra)
        if task is not None and task_account is not None:
            tokens_limit = task_account.tokens.limit
            call.task_budget_tokens = None if tokens_limit is None else int(tokens_limit)
            call.task_budget_usd = task_account.usd.limit
            verdict, account, unit = _task_verdict(task_account, estimate)
            if verdict != "fits":
                assert account is not None
                if verdict == "exhausted" or self.on_task_budget == "reject":
                    self.rejections_total["task"] += 1
                    raise _task_error(task.task_id, verdict, account, unit, estimate)
                decision, tokens = route(True)
                if decision.profile != decision.requested_profile:
                    self.downgrades_total += 1
                estimate = self._estimate(decision, tokens, max_output, extra)
        key_account: KeyAccount | None = None
        if record is not None:
            now = time.time()
            key_account = self.keys.account(record, now)
            if key_account.usd.headroom() < estimate.usd or key_account.usd.headroom() <= 0:
                self.rejections_total["key"] += 1
                raise _key_error(key_account, estimate)
        if key_account is not None or task_account is not None:
            self._reserve(call.request_id, key_account, task_account, estimate)
        return decision, tokens

    def _estimate(
        self,
        decision: RoutingDecision,
        tokens: int,
        max_output: int | None,
        extra: ExtraWork | None,
    ) -> Estimate:
        estimate = self.estimator.estimate(decision.model, tokens, max_output)
        work = extra(decision) if extra is not None else None
        if work is None:
            return estimate
        more = self.estimator.estimate(work.model, work.input_tokens, work.output_tokens)
        return Estimate(estimate.tokens + more.tokens, estimate.usd + more.usd)

    def _reserve(
        self,
        request_id: str,
        key: KeyAccount | None,
        task: TaskAccount | None,
        estimate: Estimate,
    ) -> None:
        if key is not None:
            key.usd.reserved += estimate.usd
        if task is not None:
            task.tokens.reserved += estimate.tokens
            task.usd.reserved += estimate.usd
        now = time.monotonic()
        self._reservations[request_id] = Reservation(
            key, task, estimate.usd, estimate.tokens, now + self.reservation_ttl_s
        )
        if now >= self._next_sweep:
            self._sweep(now)

    def settle(self, call: CallRecord) -> None:
        """Release the call's reservation and count what it actually consumed."""
        reservation = self._reservations.pop(call.request_id, None)
        if reservation is not None:
            _release(reservation)
            key, task = reservation.key, reservation.task
        else:
            key, task = self.keys.get(call.key_id), self.tasks.get(call.task_id)
        if not call.attempts:
            return
        cost = call.known_cost_usd
        if key is not None and cost:
            key.usd.spend.settled += cost
        if task is not None:
            usage = call.usage
            task.tokens.spend.settled += usage.input_tokens + usage.output_tokens
            task.usd.spend.settled += cost

    def _sweep(self, now: float) -> None:
        """Release reservations whose call never reported back (it cannot outlive its
        deadline), so a lost call cannot hold budget forever."""
        self._next_sweep = now + _SWEEP_EVERY_S
        expired = [rid for rid, r in self._reservations.items() if r.expires <= now]
        for request_id in expired:
            _release(self._reservations.pop(request_id))
        self.expired_reservations_total += len(expired)


def _release(reservation: Reservation) -> None:
    if reservation.key is not None:
        reservation.key.usd.reserved -= reservation.usd
    if reservation.task is not None:
        reservation.task.tokens.reserved -= reservation.tokens
        reservation.task.usd.reserved -= reservation.usd


def _task_verdict(task: TaskAccount, estimate: Estimate) -> tuple[Verdict, Account | None, str]:
    dimensions = (
        (task.tokens, float(estimate.tokens), "tokens"),
        (task.usd, estimate.usd, "usd"),
    )
    for account, _, unit in dimensions:
        if account.limit is not None and account.headroom() <= 0:
            return "exhausted", account, unit
    for account, need, unit in dimensions:
        if account.limit is not None and account.headroom() < need:
            return "over", account, unit
    return "fits", None, ""


def _amount(value: float, unit: str) -> str:
    return _tokens(value) if unit == "tokens" else _usd(value)


def _task_error(
    task_id: str, verdict: Verdict, account: Account, unit: str, estimate: Estimate
) -> GatewayError:
    assert account.limit is not None
    which = "token" if unit == "tokens" else "USD"
    spent = _amount(account.spent, unit)
    limit = _amount(account.limit, unit)
    left = _amount(max(0.0, account.headroom()), unit)
    if verdict == "exhausted":
        detail = f"its {which} budget is spent ({spent} of {limit} used, {left} left)"
    else:
        need = _amount(estimate.tokens if unit == "tokens" else estimate.usd, unit)
        detail = (
            f"this call (about {need}) would exceed its {which} budget "
            f"({spent} of {limit} used, {left} left)"
        )
    return GatewayError(
        "budget_exceeded",
        f"task budget exceeded: task {task_id!r}: {detail}",
        code="budget_exceeded",
    )


def _key_error(key: KeyAccount, estimate: Estimate) -> GatewayError:
    record = key.record
    limit = key.usd.limit or 0.0
    left = max(0.0, key.usd.headroom())
    period = "total" if record.period == "total" else f"{record.period}ly".replace("dayly", "daily")
    team = f" (team {record.team})" if record.team else ""
    reset = describe_reset(record.period, key.period_end)
    needs = (
        f"; this call needs about {_usd(estimate.usd)}" if left > 0 and not math.isinf(left) else ""
    )
    return GatewayError(
        "budget_exceeded",
        f"key budget exceeded: virtual key {record.key_id}{team} has {_usd(left)} left of its "
        f"{period} budget of {_usd(limit)} ({_usd(key.usd.spent)} spent){needs}; {reset}",
        code="budget_exceeded",
    )
