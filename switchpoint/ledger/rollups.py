"""Per-task and per-key sums, kept up to date in the same transaction as the rows.

Budgets are checked against these (a few rows per sync instead of a month of requests),
and `GET /v1/tasks/{id}` reads its task's row. Upserts are sorted by key so concurrent
writers (several worker processes) always lock rows in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from switchpoint.ledger.rows import CallRows

UPSERT_TASK = """
INSERT INTO tasks (task_id, first_ts, last_ts, calls, attempts, input_tokens,
    cached_input_tokens, cache_write_tokens, output_tokens, cost_usd, unpriced_calls,
    budget_tokens, budget_usd, key_id, team, workload)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (task_id) DO UPDATE SET
    first_ts = CASE WHEN excluded.first_ts < tasks.first_ts
        THEN excluded.first_ts ELSE tasks.first_ts END,
    last_ts = CASE WHEN excluded.last_ts > tasks.last_ts
        THEN excluded.last_ts ELSE tasks.last_ts END,
    calls = tasks.calls + excluded.calls,
    attempts = tasks.attempts + excluded.attempts,
    input_tokens = tasks.input_tokens + excluded.input_tokens,
    cached_input_tokens = tasks.cached_input_tokens + excluded.cached_input_tokens,
    cache_write_tokens = tasks.cache_write_tokens + excluded.cache_write_tokens,
    output_tokens = tasks.output_tokens + excluded.output_tokens,
    cost_usd = tasks.cost_usd + excluded.cost_usd,
    unpriced_calls = tasks.unpriced_calls + excluded.unpriced_calls,
    budget_tokens = COALESCE(excluded.budget_tokens, tasks.budget_tokens),
    budget_usd = COALESCE(excluded.budget_usd, tasks.budget_usd),
    key_id = COALESCE(tasks.key_id, excluded.key_id),
    team = COALESCE(tasks.team, excluded.team),
    workload = COALESCE(tasks.workload, excluded.workload)
"""

UPSERT_KEY_SPEND = """
INSERT INTO key_spend (key_id, day, cost_usd, requests) VALUES (?, ?, ?, ?)
ON CONFLICT (key_id, day) DO UPDATE SET
    cost_usd = key_spend.cost_usd + excluded.cost_usd,
    requests = key_spend.requests + excluded.requests
"""


@dataclass(slots=True)
class _TaskSum:
    first_ts: float
    last_ts: float
    calls: int = 0
    attempts: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    budget_tokens: int | None = None
    budget_usd: float | None = None
    key_id: str | None = None
    team: str | None = None
    workload: str | None = None


def task_rows(batch: Iterable[CallRows]) -> list[tuple[object, ...]]:
    sums: dict[str, _TaskSum] = {}
    for rows in batch:
        if rows.task_id is None:
            continue
        task = sums.get(rows.task_id)
        if task is None:
            task = sums[rows.task_id] = _TaskSum(rows.ts, rows.end_ts)
        task.first_ts = min(task.first_ts, rows.ts)
        task.last_ts = max(task.last_ts, rows.end_ts)
        task.calls += 1
        task.attempts += rows.upstream_attempts
        task.input_tokens += rows.input_tokens
        task.cached_input_tokens += rows.cached_input_tokens
        task.cache_write_tokens += rows.cache_write_tokens
        task.output_tokens += rows.output_tokens
        task.cost_usd += rows.known_cost_usd
        task.unpriced_calls += 0 if rows.cost_known else 1
        # The latest declaration wins; a call without one keeps the earlier one.
        if rows.task_budget_tokens is not None:
            task.budget_tokens = rows.task_budget_tokens
        if rows.task_budget_usd is not None:
            task.budget_usd = rows.task_budget_usd
        task.key_id = task.key_id or rows.key_id
        task.team = task.team or rows.team
        task.workload = task.workload or rows.workload
    return [
        (
            task_id,
            t.first_ts,
            t.last_ts,
            t.calls,
            t.attempts,
            t.input_tokens,
            t.cached_input_tokens,
            t.cache_write_tokens,
            t.output_tokens,
            t.cost_usd,
            t.unpriced_calls,
            t.budget_tokens,
            t.budget_usd,
            t.key_id,
            t.team,
            t.workload,
        )
        for task_id, t in sorted(sums.items())
    ]


def key_spend_rows(batch: Iterable[CallRows]) -> list[tuple[object, ...]]:
    sums: dict[tuple[str, int], list[float]] = {}
    for rows in batch:
        if rows.key_id is None:
            continue
        entry = sums.setdefault((rows.key_id, rows.day), [0.0, 0])
        entry[0] += rows.known_cost_usd
        entry[1] += 1
    return [
        (key_id, day, cost, int(count)) for (key_id, day), (cost, count) in sorted(sums.items())
    ]
