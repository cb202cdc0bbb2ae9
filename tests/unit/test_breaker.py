"""Circuit breaker sequences on a fake clock."""

from __future__ import annotations

import time

from switchpoint.config.schema import FallbackConfig
from switchpoint.execution.breaker import CircuitBreakers, Window

KEY = ("p", "m")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breakers(**fallback: object) -> tuple[CircuitBreakers, Clock, list[tuple[str, str, str]]]:
    config = FallbackConfig.model_validate(
        {
            "circuit_breaker_threshold": 0.5,
            "circuit_breaker": {
                "window_s": 10,
                "min_requests": 4,
                "open_s": 5,
                "half_open_probes": 2,
            },
            **fallback,
        }
    )
    clock = Clock()
    moves: list[tuple[str, str, str]] = []
    cb = CircuitBreakers(config, clock, lambda key, old, new, why: moves.append((old, new, why)))
    return cb, clock, moves


def test_window_evicts_old_seconds_and_keeps_running_totals() -> None:
    window = Window(3)
    window.add(10.1, True)
    window.add(10.5, False)
    window.add(11.0, False)
    assert (window.ok, window.fail) == (1, 2)
    window.advance(13.2)  # second 10 is out of a 3 s window
    assert (window.ok, window.fail) == (0, 1)
    window.advance(100.0)
    assert (window.ok, window.fail) == (0, 0)


def test_opens_at_threshold_with_minimum_volume_only() -> None:
    cb, _, moves = breakers()
    for _ in range(3):
        cb.record(KEY, "server_error", 0.1)
    assert cb.state(KEY) == "closed"  # 3 < min_requests
    cb.record(KEY, "ok", 0.1)
    assert cb.state(KEY) == "closed"  # successes never open it
    cb.record(KEY, "server_error", 0.1)
    assert cb.state(KEY) == "open"
    assert moves[0][:2] == ("closed", "open") and "4/5" in moves[0][2]
    assert not cb.allow(KEY)


def test_client_faults_do_not_count() -> None:
    cb, _, _ = breakers()
    for _ in range(10):
        cb.record(KEY, "bad_request", 0.1)
        cb.record(KEY, "context_length", 0.1)
        cb.record(KEY, "content_policy", 0.1)
    assert cb.state(KEY) == "closed"


def test_the_gateways_own_exhaustion_does_not_count() -> None:
    """Out of file descriptors, the gateway could not even connect: the provider is not
    to blame, and opening its breaker would refuse every call for the open period."""
    cb, _, transitions = breakers()
    for _ in range(50):
        cb.record(KEY, "local_resources", 0.0)
    cb.record(KEY, "ok", 0.1)
    assert cb.state(KEY) == "closed"
    assert transitions == []
    for _ in range(10):
        cb.record(KEY, "connect", 0.0)
    assert cb.state(KEY) == "open"


def test_half_open_probes_then_close() -> None:
    cb, clock, moves = breakers()
    for _ in range(4):
        cb.record(KEY, "timeout", 1.0)
    assert cb.state(KEY) == "open"
    clock.now += 4.9
    assert not cb.allow(KEY)
    assert 0 < cb.reopens_in(KEY) <= 0.1 + 1e-9
    clock.now += 0.2
    assert cb.allow(KEY) and cb.allow(KEY)
    assert not cb.allow(KEY)  # only two probes at a time
    cb.record(KEY, "ok", 0.1)
    assert cb.state(KEY) == "half_open"
    cb.record(KEY, "ok", 0.1)
    assert cb.state(KEY) == "closed"
    assert [m[:2] for m in moves] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    assert cb.allow(KEY)


def test_a_failed_probe_reopens_for_a_full_period() -> None:
    cb, clock, _ = breakers()
    for _ in range(4):
        cb.record(KEY, "server_error", 0.1)
    clock.now += 5
    assert cb.allow(KEY)
    cb.record(KEY, "server_error", 0.1)
    assert cb.state(KEY) == "open"
    clock.now += 4
    assert not cb.allow(KEY)


def test_a_neutral_probe_gives_its_slot_back() -> None:
    cb, clock, _ = breakers(circuit_breaker={"half_open_probes": 1, "min_requests": 1})
    cb.record(KEY, "server_error", 0.1)
    clock.now += 20
    assert cb.allow(KEY)
    assert not cb.allow(KEY)
    cb.record(KEY, "cancelled", None)
    assert cb.allow(KEY)


def test_attempts_begun_before_probing_are_no_probes() -> None:
    cb, clock, _ = breakers(circuit_breaker={"half_open_probes": 1, "min_requests": 1})
    straggler = clock.now  # a long stream, begun while the breaker was closed
    clock.now += 0.5
    cb.record(KEY, "server_error", 0.1, clock.now)
    clock.now += 20
    assert cb.allow(KEY)  # the one probe
    probe = clock.now
    cb.record(KEY, "cancelled", None, straggler)
    assert not cb.allow(KEY)  # the straggler's end freed no probe's place
    cb.record(KEY, "server_error", 0.1, straggler)
    assert cb.state(KEY) == "half_open"  # nor is it the probe's result
    cb.record(KEY, "ok", 0.1, probe)
    assert cb.state(KEY) == "closed"


def test_slow_answers_count_as_failures() -> None:
    cb, _, moves = breakers(
        circuit_breaker={"latency_limit_ms": 500, "min_requests": 4, "window_s": 10}
    )
    for _ in range(4):
        cb.record(KEY, "ok", 0.9)
    assert cb.state(KEY) == "open"
    assert "slower than" in moves[0][2]


def test_stragglers_do_not_move_an_open_breaker() -> None:
    cb, _, moves = breakers()
    for _ in range(4):
        cb.record(KEY, "server_error", 0.1)
    cb.record(KEY, "ok", 0.1)
    assert cb.state(KEY) == "open" and len(moves) == 1


def test_retry_budget_limits_retries_to_a_share_of_attempts() -> None:
    cb, clock, _ = breakers(retry_budget_ratio=0.2, retry_budget_min=3)
    allowed = sum(cb.allow_retry(KEY) for _ in range(10))
    assert allowed == 3  # the floor, with no attempts yet
    for _ in range(50):
        cb.record(KEY, "ok", 0.01)
    assert sum(cb.allow_retry(KEY) for _ in range(20)) == 10  # 3 + 0.2 * 50 - 3 used
    clock.now += 11  # the window has moved on
    assert cb.allow_retry(KEY)


def test_shared_transitions_apply_newest_first() -> None:
    cb, _, moves = breakers()
    cb.apply_shared(KEY, "open", changed_wall=10_000_000_000.0, origin="other")
    assert cb.state(KEY) == "open" and "shared by instance other" in moves[-1][2]
    cb.apply_shared(KEY, "closed", changed_wall=9_000_000_000.0, origin="other")
    assert cb.state(KEY) == "open"  # older than what we know
    cb.apply_shared(KEY, "closed", changed_wall=10_000_000_001.0, origin="other")
    assert cb.state(KEY) == "closed"


def test_a_shared_open_whose_open_period_is_over_is_not_applied() -> None:
    # Left in the store by an instance that stopped an hour ago: history, not health.
    cb, _, moves = breakers()
    cb.apply_shared(KEY, "open", changed_wall=time.time() - 3600, origin="gone")
    assert cb.state(KEY) == "closed" and moves == []
    assert cb.allow(KEY)
    # One opened moments ago still is.
    cb.apply_shared(KEY, "open", changed_wall=time.time() - 1, origin="other")
    assert cb.state(KEY) == "open"
