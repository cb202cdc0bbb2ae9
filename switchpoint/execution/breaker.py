"""Circuit breakers per (provider, model): stop sending to a target that keeps failing.

Closed: traffic flows; outcomes are counted in a sliding window of one-second buckets.
When the error rate over the window reaches `circuit_breaker_threshold` (with at least
`min_requests` outcomes), the breaker opens: the target is skipped for `open_s`. Then it
is half-open: up to `half_open_probes` requests go through as probes; if they all
succeed it closes, and any failure opens it again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from switchpoint.config.schema import FallbackConfig

State = Literal["closed", "open", "half_open"]

# Outcomes that say nothing about the provider's health (the request was at fault).
NEUTRAL_OUTCOMES = frozenset(
    {
        "bad_request",
        "content_policy",
        "context_length",
        "prefill_rejected",
        "not_found",
        "cancelled",
    }
)

TransitionHook = Callable[[tuple[str, str], State, State, str], None]


class _Window:
    """Success/failure counts over the last `size` seconds, in one-second buckets."""

    __slots__ = ("_fail", "_ok", "_second", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._ok = [0] * size
        self._fail = [0] * size
        self._second = [-1] * size

    def add(self, now: float, ok: bool) -> None:
        second = int(now)
        slot = second % self.size
        if self._second[slot] != second:
            self._second[slot] = second
            self._ok[slot] = 0
            self._fail[slot] = 0
        if ok:
            self._ok[slot] += 1
        else:
            self._fail[slot] += 1

    def counts(self, now: float) -> tuple[int, int]:
        oldest = int(now) - self.size
        ok = fail = 0
        for slot in range(self.size):
            if self._second[slot] > oldest:
                ok += self._ok[slot]
                fail += self._fail[slot]
        return ok, fail

    def clear(self) -> None:
        self._second = [-1] * self.size


class CircuitBreaker:
    __slots__ = ("_config", "_probe_ok", "_probes", "opened_at", "state", "window")

    def __init__(self, config: FallbackConfig) -> None:
        self._config = config
        self.window = _Window(max(1, round(config.circuit_breaker.window_s)))
        self.state: State = "closed"
        self.opened_at = 0.0
        self._probes = 0
        self._probe_ok = 0


class CircuitBreakers:
    def __init__(
        self,
        config: FallbackConfig,
        clock: Callable[[], float],
        on_transition: TransitionHook | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._breakers: dict[tuple[str, str], CircuitBreaker] = {}
        self._on_transition = on_transition

    def _get(self, key: tuple[str, str]) -> CircuitBreaker:
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = self._breakers[key] = CircuitBreaker(self._config)
        return breaker

    def state(self, key: tuple[str, str]) -> State:
        breaker = self._breakers.get(key)
        if breaker is None:
            return "closed"
        if breaker.state == "open" and self._clock() - breaker.opened_at >= self._open_s:
            return "half_open"
        return breaker.state

    def states(self) -> dict[tuple[str, str], State]:
        return {key: self.state(key) for key in self._breakers}

    @property
    def _open_s(self) -> float:
        return self._config.circuit_breaker.open_s

    def allow(self, key: tuple[str, str]) -> bool:
        """Whether an attempt may go to this target now (a half-open probe counts)."""
        breaker = self._breakers.get(key)
        if breaker is None or breaker.state == "closed":
            return True
        if breaker.state == "open":
            if self._clock() - breaker.opened_at < self._open_s:
                return False
            self._move(key, breaker, "half_open", "open period elapsed")
        if breaker._probes >= self._config.circuit_breaker.half_open_probes:
            return False
        breaker._probes += 1
        return True

    def record(self, key: tuple[str, str], outcome: str, latency_s: float | None) -> None:
        if outcome in NEUTRAL_OUTCOMES:
            self._release_probe(key)
            return
        limit_ms = self._config.circuit_breaker.latency_limit_ms
        ok = outcome == "ok"
        slow = (
            ok and limit_ms is not None and latency_s is not None and (latency_s * 1000 > limit_ms)
        )
        breaker = self._get(key)
        now = self._clock()
        if breaker.state == "half_open":
            if ok and not slow:
                breaker._probe_ok += 1
                if breaker._probe_ok >= self._config.circuit_breaker.half_open_probes:
                    self._move(key, breaker, "closed", "probes succeeded")
            else:
                self._move(key, breaker, "open", "probe failed" if not ok else "probe too slow")
            return
        if breaker.state == "open":
            return  # a straggler that started before the breaker opened
        breaker.window.add(now, ok and not slow)
        good, bad = breaker.window.counts(now)
        total = good + bad
        if total >= self._config.circuit_breaker.min_requests and (
            bad / total >= self._config.circuit_breaker_threshold
        ):
            reason = f"error rate {bad}/{total} over {breaker.window.size}s"
            if slow:
                reason += f" (latency above {limit_ms} ms counts as an error)"
            self._move(key, breaker, "open", reason)

    def _release_probe(self, key: tuple[str, str]) -> None:
        breaker = self._breakers.get(key)
        if breaker is not None and breaker.state == "half_open" and breaker._probes > 0:
            breaker._probes -= 1

    def _move(self, key: tuple[str, str], breaker: CircuitBreaker, new: State, reason: str) -> None:
        old = breaker.state
        breaker.state = new
        if new == "open":
            breaker.opened_at = self._clock()
        if new in ("open", "closed"):
            breaker._probes = 0
            breaker._probe_ok = 0
        if new == "closed":
            breaker.window.clear()
        if self._on_transition is not None and old != new:
            self._on_transition(key, old, new, reason)
