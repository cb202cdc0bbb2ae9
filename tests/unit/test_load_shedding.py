"""Load shedding: the in-flight and loop-lag limits, the event loop's lateness, the metrics."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import uvloop

from switchpoint.config.loader import ConfigError, parse_config
from switchpoint.execution.records import CallRecord
from switchpoint.ingress.load_shedding import IN_FLIGHT, LOOP_LAG, LoadShedder
from switchpoint.observability.metrics import GatewayMetrics, merge_metrics
from switchpoint.server.loop_lag import LoopLag
from tests.unit.metrics_text import exposition_text


def a_call() -> CallRecord:
    return CallRecord(
        request_id="r", protocol="openai", stream=False, started_wall=0.0, started_at=0.0
    )


class FixedLag(LoopLag):
    def __init__(self, lag_s: float) -> None:
        super().__init__()
        self.latest_s = lag_s


def test_calls_past_max_in_flight_are_refused_until_one_ends() -> None:
    shed: list[str] = []
    shedder = LoadShedder(max_in_flight=2, max_loop_lag_s=None, on_shed=shed.append)
    first, second = a_call(), a_call()
    assert shedder.refusal(anthropic=False) is None
    shedder.on_call_start(first)
    assert shedder.refusal(anthropic=False) is None
    shedder.on_call_start(second)
    refused = shedder.refusal(anthropic=False)
    assert refused is not None
    assert (refused.kind, refused.status, refused.retry_after_s) == ("overloaded", 503, 1.0)
    assert "2 calls are in flight" in refused.message
    anthropic_refusal = shedder.refusal(anthropic=True)
    assert anthropic_refusal is not None and anthropic_refusal.status == 529
    assert shed == [IN_FLIGHT, IN_FLIGHT]
    shedder.on_call(first)
    assert shedder.in_flight == 1
    assert shedder.refusal(anthropic=False) is None


def test_calls_are_refused_while_the_loop_runs_later_than_allowed() -> None:
    shed: list[str] = []
    shedder = LoadShedder(max_in_flight=None, max_loop_lag_s=0.05, on_shed=shed.append)
    # Not running (no monitor attached): nothing to go by, nothing refused.
    assert shedder.refusal(anthropic=False) is None
    shedder.loop_lag = FixedLag(0.04)
    assert shedder.refusal(anthropic=False) is None
    shedder.loop_lag = FixedLag(0.2)
    refused = shedder.refusal(anthropic=True)
    assert refused is not None and refused.status == 529
    assert "runs 200 ms late" in refused.message
    assert shed == [LOOP_LAG]


def test_refusals_are_logged_at_most_every_ten_seconds(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    shedder = LoadShedder(max_in_flight=1, max_loop_lag_s=None, clock=lambda: now[0])
    shedder.on_call_start(a_call())
    with caplog.at_level(logging.WARNING, logger="switchpoint.server"):
        for _ in range(5):
            assert shedder.refusal(anthropic=False) is not None
        now[0] += 10.0
        assert shedder.refusal(anthropic=False) is not None
    lines = [r.getMessage() for r in caplog.records if "overloaded" in r.getMessage()]
    assert len(lines) == 2
    assert "refused 1 chat call(s)" in lines[0]
    assert "refused 5 chat call(s)" in lines[1]


def test_shedding_is_off_unless_configured() -> None:
    document = {
        "providers": {"sim": {"type": "simulated"}},
        "routing": {
            "default_profile": "p",
            "profiles": {
                "p": {"model": "m", "provider": "sim", "max_context": 1000, "cost_weight": 1}
            },
        },
    }
    assert parse_config(document).server.max_in_flight is None
    assert parse_config(document).server.max_loop_lag_ms is None
    for bad in ({"max_in_flight": 0}, {"max_loop_lag_ms": 0}, {"max_loop_lag_ms": -5}):
        with pytest.raises(ConfigError, match=f"server.{next(iter(bad))}"):
            parse_config({**document, "server": bad})


def test_the_monitor_sees_a_blocked_loop_and_then_a_free_one() -> None:
    samples: list[float] = []
    monitor = LoopLag(samples.append, interval_s=0.02)

    async def scenario() -> tuple[float, float]:
        monitor.start(asyncio.get_running_loop())
        await asyncio.sleep(0.1)
        time.sleep(0.25)  # noqa: ASYNC251 (the point: the loop is stuck, the timer runs late)
        await asyncio.sleep(0)
        await asyncio.sleep(0.03)
        late = max(samples)
        await asyncio.sleep(0.1)
        return late, monitor.latest_s

    late, settled = uvloop.run(scenario())
    monitor.stop()
    assert late >= 0.2
    assert settled < 0.05
    assert len(samples) >= 6
    assert monitor.latest_s == 0.0


def test_lag_and_refusals_are_merged_across_workers_and_exported() -> None:
    first, second = GatewayMetrics(), GatewayMetrics()
    first.loop_lag.observe(0.001)
    second.loop_lag.observe(0.3)
    first.count_shed(IN_FLIGHT)
    second.count_shed(IN_FLIGHT)
    second.count_shed(LOOP_LAG)
    total = merge_metrics([first, second])
    assert total.shed == {IN_FLIGHT: 2, LOOP_LAG: 1}
    text = exposition_text(total)
    assert 'switchpoint_shed_requests_total{reason="in_flight"} 2.0' in text
    assert 'switchpoint_shed_requests_total{reason="loop_lag"} 1.0' in text
    assert "switchpoint_event_loop_lag_seconds_count 2.0" in text
    assert 'switchpoint_event_loop_lag_seconds_bucket{le="0.0025"} 1.0' in text
    assert 'switchpoint_event_loop_lag_seconds_bucket{le="0.25"} 1.0' in text
    assert 'switchpoint_event_loop_lag_seconds_bucket{le="0.5"} 2.0' in text
