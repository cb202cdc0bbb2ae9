"""Online calibration: learn, per (provider, model), how billed input tokens compare to
our uncalibrated prediction, so that estimates converge to the vendor's billing.

Each observation is q = reported / predicted, learned separately for predictions made
from estimates and from BPE counts (a "mixed" prediction teaches nothing). The
calibrator keeps an exponentially weighted mean of log q (log: a factor of 2 and of 1/2
are equally far from 1) and of its absolute deviation, and reports `factor = exp(mean)`
with a relative `bound` of four mean absolute deviations (about 3.2 sigma for normal
noise).

It is deliberately hard to mislead:
* small requests teach nothing (`min_tokens`): fixed overheads the vendor adds (hidden
  system prompts, tool preambles) would dominate their ratio;
* the factor is clamped to [1/max_factor, max_factor];
* once warmed up, an observation further than `outlier_ratio` from the current factor is
  set aside, unless `reset_after` of them in a row agree with each other: then the vendor
  really did change (a new tokenizer) and the calibrator restarts from those.

The state is small and plain (`snapshot`/`restore`), for sharing across workers later.
Not thread-safe: call it from the event loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

# What a prediction's texts were counted with (see TokenCount.basis). Factors are learned
# per basis: one learned on estimates includes the estimator's bias on that traffic.
Basis = Literal["estimate", "bpe", "mixed"]


@dataclass(frozen=True, slots=True)
class Calibration:
    factor: float
    # Relative uncertainty of factor * prediction, once enough has been observed.
    bound: float | None
    samples: int


@dataclass(slots=True)
class _State:
    mean: float = 0.0
    deviation: float = 0.0
    samples: int = 0
    pending: list[float] = field(default_factory=list)


NEUTRAL = Calibration(factor=1.0, bound=None, samples=0)


class Calibrator:
    def __init__(
        self,
        *,
        alpha: float = 0.05,
        min_samples: int = 20,
        min_tokens: int = 1_000,
        max_factor: float = 3.0,
        outlier_ratio: float = 1.5,
        reset_after: int = 8,
        min_bound: float = 0.02,
    ) -> None:
        if not 0 < alpha < 1:
            raise ValueError("alpha must be in (0, 1)")
        self.alpha = alpha
        self.min_samples = min_samples
        self.min_tokens = min_tokens
        self._log_max = math.log(max_factor)
        self._log_outlier = math.log(outlier_ratio)
        self.reset_after = reset_after
        self.min_bound = min_bound
        self._states: dict[tuple[str, str, Basis], _State] = {}

    def observe(
        self,
        provider: str,
        model: str,
        predicted: int,
        reported: int,
        basis: Basis = "estimate",
    ) -> bool:
        """Learn from one request's billed `reported` input tokens against the
        uncalibrated `predicted` (`TokenCount.uncalibrated`, on `TokenCount.basis`).
        False if set aside."""
        if predicted < self.min_tokens or reported <= 0 or basis == "mixed":
            return False
        x = max(-self._log_max, min(self._log_max, math.log(reported / predicted)))
        state = self._states.setdefault((provider, model, basis), _State())
        warm = state.samples >= self.min_samples
        if warm and abs(x - state.mean) > self._log_outlier:
            state.pending.append(x)
            if len(state.pending) < self.reset_after:
                return False
            center = sorted(state.pending)[len(state.pending) // 2]
            if all(abs(p - center) <= self._log_outlier / 2 for p in state.pending):
                restart = state.pending
                state.mean, state.deviation, state.samples, state.pending = 0.0, 0.0, 0, []
                for value in restart:
                    self._update(state, value)
                return True
            state.pending.pop(0)
            return False
        state.pending.clear()
        self._update(state, x)
        return True

    def _update(self, state: _State, x: float) -> None:
        state.samples += 1
        # A running mean while young (every early sample counts), EWMA after.
        rate = max(self.alpha, 1.0 / state.samples)
        if state.samples == 1:
            state.mean = x
            return
        state.deviation += rate * (abs(x - state.mean) - state.deviation)
        state.mean += rate * (x - state.mean)

    def get(self, provider: str, model: str, basis: Basis = "estimate") -> Calibration:
        state = self._states.get((provider, model, basis))
        if state is None or state.samples == 0:
            return NEUTRAL
        factor = math.exp(state.mean)
        if state.samples < self.min_samples:
            return Calibration(factor=factor, bound=None, samples=state.samples)
        return Calibration(
            factor=factor,
            bound=max(self.min_bound, 4.0 * state.deviation),
            samples=state.samples,
        )

    def snapshot(self) -> dict[str, dict[str, float]]:
        return {
            f"{provider}\t{model}\t{basis}": {
                "mean": s.mean,
                "deviation": s.deviation,
                "samples": s.samples,
            }
            for (provider, model, basis), s in self._states.items()
        }

    def restore(self, snapshot: dict[str, dict[str, float]]) -> None:
        for key, values in snapshot.items():
            provider, model, basis = key.split("\t", 2)
            if basis not in ("estimate", "bpe"):
                continue
            self._states[(provider, model, basis)] = _State(  # type: ignore[index]
                mean=float(values["mean"]),
                deviation=float(values["deviation"]),
                samples=int(values["samples"]),
            )
