"""Building finished `CallRecord`s by hand, as execution would have left them."""

from __future__ import annotations

import itertools
import time

from switchpoint.chat.usage import Usage
from switchpoint.execution.records import AttemptRecord, CallRecord
from switchpoint.routing.decision import RoutingDecision

_ids = itertools.count(1)


def decision(profile: str, model: str, requested: str | None = None) -> RoutingDecision:
    return RoutingDecision(
        profile=profile,
        model=model,
        provider="sim",
        requested_profile=requested or profile,
        effective_max_tokens=100,
        fallback_triggered=requested is not None and requested != profile,
        routing_rationale="",
        chain=[profile],
    )


def attempt(
    profile: str,
    model: str,
    *,
    usage: tuple[int, int] | None = (100, 10),
    cost: float | None = 0.001,
    outcome: str = "ok",
    reason: str = "first",
    duration_s: float = 0.05,
) -> AttemptRecord:
    record = AttemptRecord(
        profile=profile,
        provider="sim",
        model=model,
        reason=reason,
        started_at=time.perf_counter(),
        duration_s=duration_s,
        outcome=outcome,
    )
    if usage is not None:
        record.usage = Usage(input_tokens=usage[0], output_tokens=usage[1])
        record.cost_usd = cost
    return record


def call(
    *,
    workload: str = "terminal_agent",
    model: str = "gpt-5.5",
    served_profile: str | None = None,
    task_id: str | None = None,
    key_id: str | None = None,
    team: str | None = None,
    attempts: list[AttemptRecord] | None = None,
    latency_s: float = 0.1,
    ts: float | None = None,
    status: str = "ok",
    request_id: str | None = None,
) -> CallRecord:
    profile = served_profile or workload
    record = CallRecord(
        request_id=request_id or f"test-{next(_ids):08d}-{time.time_ns()}",
        protocol="openai",
        stream=False,
        started_wall=time.time() if ts is None else ts,
        started_at=time.perf_counter(),
        workload=workload,
        task_id=task_id,
        key_id=key_id,
        team=team,
        decision=decision(profile, model, workload),
    )
    record.attempts = attempts if attempts is not None else [attempt(profile, model)]
    record.duration_s = latency_s
    record.status = status
    if status == "ok":
        record.served = record.attempts[-1]
    else:
        record.http_status = 502
    return record
