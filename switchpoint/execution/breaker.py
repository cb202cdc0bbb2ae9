"""Circuit breakers per (provider, model): stop sending to a target that keeps failing.

Closed: traffic flows; outcomes are counted in a sliding window of one-second buckets
(running totals, so recording is O(1)). When the share of failures over the window
reaches `circuit_breaker_threshold` with at least `min_requests` outcomes, the breaker
opens: the target is skipped for `open_s`. Then it is half-open: up to
`half_open_probes` requests go through as probes; when they have all succeeded it closes,
and any failure opens it again. An answer slower than `latency_limit_ms` is a failure.

The same window holds a retry budget: a target may receive `retry_budget_min` retries
per window plus `retry_budget_ratio` of its attempts, so that a provider failing every
request is not hit by every request's retries before its breaker opens.

Hot path: `allow` on a closed breaker is one set lookup; `record` is a dict lookup and a
few integer updates. State lives in a `BreakerStore` (this process, or shared).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from switchpoint.config.schema import FallbackConfig

State = Literal["closed", "open", "half_open"]
Key = tuple[str, str]

# Outcomes that say nothing about the provider's health (the request was at fault, the
# client went away, or the gateway could not even open a connection).
NEUTRAL_OUTCOMES = frozenset(
    {
        "bad_request",
        "unsupported",
        "content_policy",
        "context_length",
        "prefill_rejected",
        "not_found",
        "cancelled",
        "unavailable",
        "local_resources",
    }
)

TransitionHook = Callable[[Key, State, State, str], None]


class Window:
    """Outcome counts over the last `size` seconds, in one-second buckets."""

    __slots__ = ("_fail", "_head", "_ok", "_retry", "fail", "ok", "retries", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._ok = [0] * size
        self._fail = [0] * size
        self._retry = [0] * size
        self._head = 0  # the newest second counted
        self.ok = self.fail = self.retries = 0

    def advance(self, now: float) -> int:
        """Evict buckets older than the window; returns the current bucket's slot."""
        second = int(now)
        head = self._head
        if second > head:
            size = self.size
            if second - head >= size:
                self._ok = [0] * size
                self._fail = [0] * size
                self._retry = [0] * size
                self.ok = self.fail = self.retries = 0
            else:
                for s in range(head + 1, second + 1):
                    slot = s % size
                    self.ok -= self._ok[slot]
                    self.fail -= self._fail[slot]
                    self.retries -= self._retry[slot]
                    self._ok[slot] = self._fail[slot] = self._retry[slot] = 0
            self._head = second
        return self._head % self.size

    def add(self, now: float, ok: bool) -> None:
        slot = self.advance(now)
        if ok:
            self._ok[slot] += 1
            self.ok += 1
        else:
            self._fail[slot] += 1
            self.fail += 1

    def add_retry(self, now: float) -> None:
        slot = self.advance(now)
        self._retry[slot] += 1
        self.retries += 1

    def clear(self) -> None:
        self._ok = [0] * self.size
        self._fail = [0] * self.size
        self._retry = [0] * self.size
        self.ok = self.fail = self.retries = 0


class Breaker:
    """One target's breaker. `changed_wall` (unix time of the last transition) orders
    transitions shared between gateway instances."""

    __slots__ = (
        "changed_wall",
        "half_open_at",
        "opened_at",
        "probe_ok",
        "probes",
        "state",
        "window",
    )

    def __init__(self, window_s: float) -> None:
        self.window = Window(max(1, round(window_s)))
        self.state: State = "closed"
        self.opened_at = 0.0
        # When probing began: an attempt that started before is no probe.
        self.half_open_at = 0.0
        self.probes = 0
        self.probe_ok = 0
        self.changed_wall = 0.0


class BreakerStore:
    """Where breakers live. This one is the process's own memory; a shared store
    (`redis_breaker_store.RedisBreakerStore`) keeps the same local replica, so the hot
    path never waits on a network, and exchanges transitions in the background."""

    def __init__(self) -> None:
        self.breakers: dict[Key, Breaker] = {}
        # Keys whose breaker is not closed: `allow` needs only this set's lookup.
        self.tripped: set[Key] = set()

    def start(self, breakers: CircuitBreakers) -> None:
        """Begin any background work; called once a loop runs. `breakers` applies
        transitions that other instances announce."""

    def announce(self, key: Key, breaker: Breaker, reason: str) -> None:
        """A local transition happened (shared stores pass it on)."""

    async def aclose(self) -> None:
        """Stop background work."""


class CircuitBreakers:
    def __init__(
        self,
        config: FallbackConfig,
        clock: Callable[[], float],
        on_transition: TransitionHook | None = None,
        store: BreakerStore | None = None,
    ) -> None:
        breaker = config.circuit_breaker
        self._threshold = config.circuit_breaker_threshold
        self._window_s = breaker.window_s
        self._min_requests = breaker.min_requests
        self._open_s = breaker.open_s
        self._probes = breaker.half_open_probes
        self._latency_limit_s = (
            breaker.latency_limit_ms / 1000.0 if breaker.latency_limit_ms is not None else None
        )
        self._retry_ratio = config.retry_budget_ratio
        self._retry_min = config.retry_budget_min
        self._clock = clock
        self._on_transition = on_transition
        self.store = store if store is not None else BreakerStore()
        self._breakers = self.store.breakers
        self._tripped = self.store.tripped

    def _get(self, key: Key) -> Breaker:
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = self._breakers[key] = Breaker(self._window_s)
        return breaker

    # --- reading ----------------------------------------------------------------------
    def state(self, key: Key) -> State:
        breaker = self._breakers.get(key)
        if breaker is None:
            return "closed"
        if breaker.state == "open" and self._clock() - breaker.opened_at >= self._open_s:
            return "half_open"
        return breaker.state

    def states(self) -> dict[Key, State]:
        return {key: self.state(key) for key in self._breakers}

    def reopens_in(self, key: Key) -> float:
        """Seconds until an open breaker lets a probe through (0 if it would now)."""
        breaker = self._breakers.get(key)
        if breaker is None or breaker.state != "open":
            return 0.0
        return max(0.0, self._open_s - (self._clock() - breaker.opened_at))

    # --- the request path ---------------------------------------------------------------
    def allow(self, key: Key) -> bool:
        """Whether an attempt may go to this target now (a half-open probe counts: its
        outcome must be recorded, or the probe `release`d)."""
        if key not in self._tripped:
            return True
        breaker = self._breakers[key]
        if breaker.state == "open":
            if self._clock() - breaker.opened_at < self._open_s:
                return False
            self._move(key, breaker, "half_open", "open period elapsed")
        if breaker.probes >= self._probes:
            return False
        breaker.probes += 1
        return True

    def allow_retry(self, key: Key) -> bool:
        """Whether the retry budget lets one more retry go to this target; if so, the
        retry is counted against it."""
        breaker = self._get(key)
        window = breaker.window
        window.advance(self._clock())
        if window.retries >= self._retry_min + self._retry_ratio * (window.ok + window.fail):
            return False
        window.add_retry(self._clock())
        return True

    def release(self, key: Key, started_at: float | None = None) -> None:
        """An admitted attempt was not made after all, or said nothing about health.
        `started_at`: when the attempt began (None: just now)."""
        if key in self._tripped:
            breaker = self._breakers[key]
            if (
                breaker.state == "half_open"
                and breaker.probes > 0
                and (started_at is None or started_at >= breaker.half_open_at)
            ):
                breaker.probes -= 1

    def record(
        self, key: Key, outcome: str, latency_s: float | None, started_at: float | None = None
    ) -> None:
        """The outcome of an attempt that began at `started_at` (None: taken as a probe
        when the breaker is half-open)."""
        if outcome in NEUTRAL_OUTCOMES:
            self.release(key, started_at)
            return
        ok = outcome == "ok"
        slow = False
        if ok and latency_s is not None:
            limit = self._latency_limit_s
            slow = limit is not None and latency_s > limit
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = self._breakers[key] = Breaker(self._window_s)
        if key in self._tripped:
            if started_at is not None and started_at < breaker.half_open_at:
                # It began before the breaker opened (no attempt is let through while
                # it is open): no probe, and no news of the target since.
                return
            self._record_tripped(key, breaker, ok, slow)
            return
        now = self._clock()
        good = ok and not slow
        breaker.window.add(now, good)
        if good:
            return  # a success never raises the failure rate
        window = breaker.window
        total = window.ok + window.fail
        if total >= self._min_requests and window.fail >= self._threshold * total:
            reason = f"error rate {window.fail}/{total} over {window.size}s"
            if slow:
                reason += f" (answers slower than {self._latency_limit_s:g}s count as errors)"
            self._move(key, breaker, "open", reason)

    def _record_tripped(self, key: Key, breaker: Breaker, ok: bool, slow: bool) -> None:
        if breaker.state == "open":
            return  # a straggler that started before the breaker opened
        if breaker.state == "half_open":
            if ok and not slow:
                breaker.probe_ok += 1
                if breaker.probe_ok >= self._probes:
                    self._move(key, breaker, "closed", f"{breaker.probe_ok} probe(s) succeeded")
            else:
                reason = "probe too slow" if ok else "probe failed"
                self._move(key, breaker, "open", reason)

    # --- transitions --------------------------------------------------------------------
    def _move(
        self,
        key: Key,
        breaker: Breaker,
        new: State,
        reason: str,
        *,
        announce: bool = True,
        opened_at: float | None = None,
        changed_wall: float | None = None,
    ) -> None:
        old = breaker.state
        breaker.state = new
        breaker.changed_wall = changed_wall if changed_wall is not None else time.time()
        if new == "open":
            breaker.opened_at = opened_at if opened_at is not None else self._clock()
            # Until probing begins, every attempt in flight is a straggler.
            breaker.half_open_at = float("inf")
        elif new == "half_open":
            breaker.half_open_at = self._clock()
        if new != "half_open":
            breaker.probes = 0
            breaker.probe_ok = 0
        if new == "closed":
            breaker.window.clear()
            self._tripped.discard(key)
        else:
            self._tripped.add(key)
        if old == new:
            return
        if announce:
            self.store.announce(key, breaker, reason)
        if self._on_transition is not None:
            self._on_transition(key, old, new, reason)

    def apply_shared(self, key: Key, state: State, changed_wall: float, origin: str) -> None:
        """Another gateway instance moved this breaker at `changed_wall` (unix time)."""
        breaker = self._get(key)
        if changed_wall <= breaker.changed_wall or state == breaker.state:
            return
        reason = f"shared by instance {origin}"
        if state == "open":
            # Keep the remote open period: it ends open_s after the remote opened it.
            age = max(0.0, time.time() - changed_wall)
            if age >= self._open_s:
                # That period is over: an open left behind by an instance that stopped
                # (nothing closes it then) says nothing of the target now, and applying
                # it would put this one in half-open, refusing all but its probes.
                return
            opened_at = self._clock() - age
            self._move(
                key,
                breaker,
                "open",
                reason,
                announce=False,
                opened_at=opened_at,
                changed_wall=changed_wall,
            )
        elif state == "closed":
            self._move(key, breaker, "closed", reason, announce=False, changed_wall=changed_wall)
