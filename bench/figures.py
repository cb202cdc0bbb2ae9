"""Figures: one number per target per repeat, and what is derived from them.

A figure is, e.g., ("latency", "500 req/s", "p50 ms"). Each repeat measures every target
once, so "added" (target minus `direct`) is taken within one repeat, from numbers
measured minutes apart at most, and only then summarised across repeats.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from bench.noise import SPREAD_LIMIT
from bench.stats import Spread, spread

BASELINE = "direct"


@dataclass(frozen=True, slots=True)
class Goal:
    """What the goal target must reach. `on` is "value", "added" (minus direct), or
    "ratio:<other target>" (value divided by the other target's value)."""

    on: str
    op: Literal["<=", ">="]
    threshold: float

    def check(self, x: float) -> bool | None:
        if math.isnan(x):
            return None
        compare: Callable[[float, float], bool] = operator.le if self.op == "<=" else operator.ge
        return compare(x, self.threshold)

    def describe(self) -> str:
        what = {"value": "", "added": "added "}.get(self.on, f"x {self.on[6:]} ")
        return f"{what}{self.op} {self.threshold:g}"


@dataclass
class Figure:
    measurement: str
    scenario: str
    metric: str
    unit: str
    better: Literal["lower", "higher"]
    # Whether "added" (minus direct) means something for this figure.
    additive: bool
    goals: list[Goal] = field(default_factory=list)
    # target -> repeat -> value
    values: dict[str, dict[int, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # target -> the most cores other programs used during any of its runs
    foreign: dict[str, float] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.measurement, self.scenario, self.metric)

    def spread(self, target: str) -> Spread:
        return spread(self.values.get(target, {}).values())

    def added(self, target: str) -> Spread:
        """Per-repeat differences from direct, summarised."""
        mine = self.values.get(target, {})
        base = self.values.get(BASELINE, {})
        return spread(mine[r] - base[r] for r in mine if r in base)

    def ratio(self, target: str, other: str) -> float:
        a, b = self.spread(target).median, self.spread(other).median
        if math.isnan(a) or math.isnan(b) or b == 0:
            return math.nan
        return a / b

    def noisy(self, target: str) -> bool:
        rel = self.spread(target).relative
        return not math.isnan(rel) and rel > SPREAD_LIMIT

    def goal_value(self, goal: Goal, target: str) -> float:
        if goal.on == "value":
            return self.spread(target).median
        if goal.on == "added":
            return self.added(target).median
        return self.ratio(target, goal.on.removeprefix("ratio:"))

    def to_dict(self, targets: list[str], goal_target: str) -> dict[str, object]:
        per_target: dict[str, object] = {}
        for t in targets:
            if t not in self.values:
                continue
            entry: dict[str, object] = {"value": self.spread(t).to_dict(),
                                        "foreign_cores_max": self.foreign.get(t)}
            if self.additive and t != BASELINE and BASELINE in self.values:
                entry["added"] = self.added(t).to_dict()
            per_target[t] = entry
        goals = []
        for g in self.goals:
            x = self.goal_value(g, goal_target) if goal_target in self.values else math.nan
            goals.append({"target": goal_target, "on": g.on, "op": g.op,
                          "threshold": g.threshold, "measured": x, "met": g.check(x)})
        return {
            "measurement": self.measurement,
            "scenario": self.scenario,
            "metric": self.metric,
            "unit": self.unit,
            "better": self.better,
            "targets": per_target,
            "goals": goals,
            "notes": self.notes,
        }


class FigureSet:
    def __init__(self) -> None:
        self._figures: dict[tuple[str, str, str], Figure] = {}
        # Foreign load during the measurement whose figures are being recorded now.
        self.current_foreign = 0.0

    def record(
        self,
        measurement: str,
        scenario: str,
        metric: str,
        target: str,
        repeat: int,
        value: float,
        *,
        unit: str,
        better: Literal["lower", "higher"] = "lower",
        additive: bool = False,
        goals: list[Goal] | None = None,
    ) -> Figure:
        key = (measurement, scenario, metric)
        fig = self._figures.get(key)
        if fig is None:
            fig = Figure(measurement, scenario, metric, unit, better, additive, goals or [])
            self._figures[key] = fig
        fig.values.setdefault(target, {})[repeat] = value
        fig.foreign[target] = max(fig.foreign.get(target, 0.0), self.current_foreign)
        return fig

    def note(self, measurement: str, scenario: str, metric: str, text: str) -> None:
        fig = self._figures.get((measurement, scenario, metric))
        if fig is not None and text not in fig.notes:
            fig.notes.append(text)

    def all(self) -> list[Figure]:
        return list(self._figures.values())
