"""The outcome report: per group, what the work cost and what it achieved.

Two views are joined per group:

- requests (`requests`, `cost_usd`, latency percentiles, `fallback_rate`): every request
  in the window whose own workload / model / team is the group's;
- tasks (`tasks`, `completed_outcomes`, `success_rate`, `cost_per_completed_outcome`,
  `tokens_per_completed_outcome`): each task in the window counts in one group, the one
  most of its calls were in (earliest first on a tie), with its whole cost, so a task
  that was downgraded halfway still counts against the workload it started as, and
  totals add up across groups.

`cost_per_completed_outcome` is the cost of the group's tasks (failed and unfinished
ones included: that is the point) divided by their successful outcomes. By task kind,
a task counts in every kind it reported; tasks and requests without an outcome form
the group with key null.

Beside the groups, `attempt_changes` says what the gateway changed in the requests it
sent, per model (`attempt_changes.py`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Literal

from switchpoint.ledger.attempt_changes import ModelChanges, attempt_changes
from switchpoint.ledger.database import Connection

GroupBy = Literal["workload", "model", "team", "task_kind"]
GROUPINGS: tuple[GroupBy, ...] = ("workload", "model", "team", "task_kind")
Metric = Literal["cost_per_completed_outcome", "cost_per_token"]


@dataclass(slots=True)
class ReportGroup:
    key: str | None
    requests: int = 0
    tasks: int = 0
    completed_outcomes: int = 0
    success_rate: float | None = None
    cost_usd: float = 0.0
    cost_per_completed_outcome: float | None = None
    tokens_per_completed_outcome: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    fallback_rate: float | None = None
    # Beyond the headline figures: what the figures rest on.
    tokens: int = 0
    cost_per_mtok: float | None = None
    unpriced_requests: int = 0
    outcomes: int = 0


@dataclass(slots=True)
class Report:
    since: float
    until: float
    by: GroupBy
    metric: Metric
    groups: list[ReportGroup]
    attempt_changes: list[ModelChanges] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "since": self.since,
            "until": self.until,
            "by": self.by,
            "metric": self.metric,
            "groups": [asdict(group) for group in self.groups],
            "attempt_changes": [asdict(changes) for changes in self.attempt_changes],
        }


def normalise_group_by(text: str) -> GroupBy:
    value = text.strip().lower().replace("-", "_")
    for grouping in GROUPINGS:
        if grouping == value:
            return grouping
    raise ValueError(f"unknown grouping {text!r} (workload, model, team or task_kind)")


def _num(value: object) -> float:
    if value is None:
        return 0.0
    if isinstance(value, Decimal | int | float):
        return float(value)
    return float(str(value))


_REQUEST_GROUP = {"workload": "r.workload", "model": "r.model", "team": "r.team"}
_KIND_SOURCE = "requests r LEFT JOIN outcomes o ON o.task_id = r.task_id"


def _request_view(connection: Connection, by: GroupBy, since: float) -> list[tuple[object, ...]]:
    group = "o.kind" if by == "task_kind" else _REQUEST_GROUP[by]
    source = _KIND_SOURCE if by == "task_kind" else "requests r"
    totals = connection.execute(
        f"SELECT {group}, COUNT(*), SUM(COALESCE(r.cost_usd, 0)), "
        "SUM(CASE WHEN r.cost_known THEN 0 ELSE 1 END), "
        "SUM(r.input_tokens + r.output_tokens), "
        "SUM(CASE WHEN r.fallback THEN 1 ELSE 0 END) "
        f"FROM {source} WHERE r.ts >= ? GROUP BY {group}",
        (since,),
    )
    return totals


def _latencies(connection: Connection, by: GroupBy, since: float) -> dict[str | None, tuple]:  # type: ignore[type-arg]
    group = "o.kind" if by == "task_kind" else _REQUEST_GROUP[by]
    source = _KIND_SOURCE if by == "task_kind" else "requests r"
    # Nearest-rank percentiles with window functions: the same SQL on both backends.
    rows = connection.execute(
        "SELECT g, MIN(CASE WHEN rn * 100 >= n * 50 THEN latency_ms END), "
        "MIN(CASE WHEN rn * 100 >= n * 95 THEN latency_ms END) FROM ("
        f"SELECT {group} AS g, r.latency_ms AS latency_ms, "
        f"ROW_NUMBER() OVER (PARTITION BY {group} ORDER BY r.latency_ms) AS rn, "
        f"COUNT(*) OVER (PARTITION BY {group}) AS n "
        f"FROM {source} WHERE r.ts >= ? AND r.status = 'ok') ranked GROUP BY g",
        (since,),
    )
    return {None if g is None else str(g): (p50, p95) for g, p50, p95 in rows}


_TASK_COST = (
    "task_cost AS (SELECT r.task_id AS task_id, SUM(COALESCE(r.cost_usd, 0)) AS cost, "
    "SUM(r.input_tokens + r.output_tokens) AS tokens FROM requests r "
    "WHERE r.ts >= ? AND r.task_id IS NOT NULL GROUP BY r.task_id)"
)


def _task_view(connection: Connection, by: GroupBy, since: float) -> list[tuple[object, ...]]:
    if by == "task_kind":
        return connection.execute(
            f"WITH {_TASK_COST} "
            "SELECT o.kind, COUNT(*), SUM(c.cost), SUM(c.tokens), "
            "SUM(CASE WHEN o.outcome = 'success' THEN 1 ELSE 0 END), COUNT(o.kind) "
            "FROM task_cost c LEFT JOIN outcomes o ON o.task_id = c.task_id GROUP BY o.kind",
            (since,),
        )
    group = _REQUEST_GROUP[by]
    return connection.execute(
        f"WITH {_TASK_COST}, "
        f"task_groups AS (SELECT r.task_id AS task_id, {group} AS g, COUNT(*) AS calls, "
        "MIN(r.ts) AS first_ts FROM requests r WHERE r.ts >= ? AND r.task_id IS NOT NULL "
        f"GROUP BY r.task_id, {group}), "
        "task_home AS (SELECT task_id, g FROM (SELECT task_id, g, ROW_NUMBER() OVER "
        "(PARTITION BY task_id ORDER BY calls DESC, first_ts ASC) AS rn FROM task_groups) "
        "ranked WHERE rn = 1), "
        "task_results AS (SELECT task_id, "
        "SUM(CASE WHEN outcome = 'success' THEN 1 ELSE 0 END) AS successes, "
        "COUNT(*) AS outcomes FROM outcomes GROUP BY task_id) "
        "SELECT h.g, COUNT(*), SUM(c.cost), SUM(c.tokens), "
        "SUM(COALESCE(t.successes, 0)), SUM(COALESCE(t.outcomes, 0)) "
        "FROM task_home h JOIN task_cost c ON c.task_id = h.task_id "
        "LEFT JOIN task_results t ON t.task_id = h.task_id GROUP BY h.g",
        (since, since),
    )


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def outcome_report(
    connection: Connection,
    *,
    since: float,
    until: float,
    by: GroupBy,
    metric: Metric = "cost_per_completed_outcome",
    changes: bool = True,
) -> Report:
    """The report; `changes=False` leaves out `attempt_changes` (and its queries)."""
    groups: dict[str | None, ReportGroup] = {}

    def group(key: object) -> ReportGroup:
        name = None if key is None else str(key)
        found = groups.get(name)
        if found is None:
            found = groups[name] = ReportGroup(name)
        return found

    for key, requests, cost, unpriced, tokens, fallbacks in _request_view(connection, by, since):
        entry = group(key)
        entry.requests = int(_num(requests))
        entry.cost_usd = _num(cost)
        entry.unpriced_requests = int(_num(unpriced))
        entry.tokens = int(_num(tokens))
        entry.fallback_rate = _ratio(_num(fallbacks), entry.requests)
        entry.cost_per_mtok = entry.cost_usd / entry.tokens * 1_000_000 if entry.tokens else None
    for key, (p50, p95) in _latencies(connection, by, since).items():
        entry = group(key)
        entry.latency_p50_ms = None if p50 is None else _num(p50)
        entry.latency_p95_ms = None if p95 is None else _num(p95)
    for key, tasks, cost, tokens, successes, outcomes in _task_view(connection, by, since):
        entry = group(key)
        entry.tasks = int(_num(tasks))
        entry.completed_outcomes = int(_num(successes))
        entry.outcomes = int(_num(outcomes))
        entry.success_rate = _ratio(entry.completed_outcomes, entry.outcomes)
        entry.cost_per_completed_outcome = _ratio(_num(cost), entry.completed_outcomes)
        entry.tokens_per_completed_outcome = _ratio(_num(tokens), entry.completed_outcomes)

    def rank(entry: ReportGroup) -> tuple[float, str]:
        value = (
            entry.cost_per_completed_outcome
            if metric == "cost_per_completed_outcome"
            else entry.cost_per_mtok
        )
        # Cheapest first; groups the metric says nothing about go last.
        return (math.inf if value is None else value, entry.key or "")

    return Report(
        since=since,
        until=until,
        by=by,
        metric=metric,
        groups=sorted(groups.values(), key=rank),
        attempt_changes=attempt_changes(connection, since) if changes else [],
    )
