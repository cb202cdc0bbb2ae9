"""The call's deadline: no attempt is started that has no time left to complete; the
client is told the deadline passed (504), not that a connection timed out (502)."""

from __future__ import annotations

import asyncio

import pytest

from switchpoint.config.loader import parse_config
from switchpoint.errors import GatewayError
from switchpoint.execution.executor import MIN_ATTEMPT_S, Executor
from switchpoint.execution.records import AttemptRecord, CallRecord
from switchpoint.execution.targets import Target
from switchpoint.gateway import Gateway
from switchpoint.providers.errors import ProviderError
from switchpoint.providers.limits import AttemptLimits

DEADLINE_S = 10.0
STARTED_AT = 100.0


def run_two_targets(left_after_first_s: float) -> tuple[list[str], GatewayError]:
    """Two targets; the first fails as silent once only `left_after_first_s` of the
    call's deadline remains; the second fails the same way at once."""
    config = parse_config(
        {
            "providers": {
                name: {"type": "simulated"} for name in ("openai", "anthropic", "google")
            },
            "routing": {"fallback": {"request_deadline_s": DEADLINE_S}},
            "logging": {"access_log": False},
        }
    )
    gateway = Gateway(config)
    now = [STARTED_AT]
    executor = Executor(
        config, gateway.registry, gateway.adapters, gateway.bus, clock=lambda: now[0]
    )
    targets = [executor.target("terminal_agent"), executor.target("cost_sensitive")]
    call = CallRecord("r1", "openai_chat", False, started_wall=0.0, started_at=STARTED_AT)
    started: list[str] = []

    async def attempt_fn(target: Target, attempt: AttemptRecord, limits: AttemptLimits) -> None:
        started.append(target.profile.name)
        now[0] = STARTED_AT + DEADLINE_S - left_after_first_s
        raise ProviderError("timeout", "accepted and went silent")

    with pytest.raises(GatewayError) as caught:
        asyncio.run(executor.run_attempts(call, attempt_fn, targets=targets))
    return started, caught.value


def test_no_attempt_starts_with_no_time_left_to_complete() -> None:
    started, error = run_two_targets(MIN_ATTEMPT_S / 2)
    assert started == ["terminal_agent"]
    assert error.status == 504
    assert "did not complete within its 10s deadline" in error.message


def test_an_attempt_with_time_left_still_runs() -> None:
    started, error = run_two_targets(MIN_ATTEMPT_S * 5)
    assert started == ["terminal_agent", "cost_sensitive"]
    assert "all 2 attempt(s) failed" in error.message
