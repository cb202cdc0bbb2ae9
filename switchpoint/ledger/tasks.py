"""Reading tasks back: the aggregate of one task, and the spend of many (for budgets)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from switchpoint.ledger.database import Connection
from switchpoint.ledger.outcomes import StoredOutcome, task_outcomes

_ID_CHUNK = 500


@dataclass(frozen=True, slots=True)
class TaskSpend:
    task_id: str
    tokens: int
    cost_usd: float
    budget_tokens: int | None
    budget_usd: float | None


@dataclass(slots=True)
class TaskSummary:
    task_id: str
    calls: int = 0
    attempts: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    budget_tokens: int | None = None
    budget_usd: float | None = None
    key_id: str | None = None
    team: str | None = None
    workload: str | None = None
    models: list[str] = field(default_factory=list)
    outcomes: list[StoredOutcome] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def wall_time_s(self) -> float:
        if self.first_ts is None or self.last_ts is None:
            return 0.0
        return max(0.0, self.last_ts - self.first_ts)


_TASK_COLUMNS = (
    "calls, attempts, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, "
    "cost_usd, unpriced_calls, first_ts, last_ts, budget_tokens, budget_usd, key_id, team, "
    "workload"
)


def task_summary(connection: Connection, task_id: str) -> TaskSummary | None:
    """Calls, tokens, cost, models and outcomes of a task; None if nothing is known."""
    summary = TaskSummary(task_id)
    rows = connection.execute(f"SELECT {_TASK_COLUMNS} FROM tasks WHERE task_id = ?", (task_id,))
    if rows:
        (
            summary.calls,
            summary.attempts,
            summary.input_tokens,
            summary.cached_input_tokens,
            summary.cache_write_tokens,
            summary.output_tokens,
            summary.cost_usd,
            summary.unpriced_calls,
            summary.first_ts,
            summary.last_ts,
            summary.budget_tokens,
            summary.budget_usd,
            summary.key_id,
            summary.team,
            summary.workload,
        ) = rows[0]
        summary.models = [
            str(model)
            for model, _ in connection.execute(
                "SELECT model, COUNT(*) AS calls FROM requests "
                "WHERE task_id = ? AND model IS NOT NULL "
                "GROUP BY model ORDER BY calls DESC, model",
                (task_id,),
            )
        ]
    summary.outcomes = task_outcomes(connection, task_id)
    if not rows and not summary.outcomes:
        return None
    return summary


def task_team(connection: Connection, task_id: str) -> tuple[bool, str | None]:
    """(whether the task has calls, the team its first calls were made for)."""
    rows = connection.execute("SELECT team FROM tasks WHERE task_id = ?", (task_id,))
    if not rows:
        return False, None
    team = rows[0][0]
    return True, None if team is None else str(team)


def task_spend(connection: Connection, task_ids: Sequence[str]) -> dict[str, TaskSpend]:
    spend: dict[str, TaskSpend] = {}
    for start in range(0, len(task_ids), _ID_CHUNK):
        chunk = list(task_ids[start : start + _ID_CHUNK])
        marks = ", ".join("?" for _ in chunk)
        for task_id, tokens, cost, budget_tokens, budget_usd in connection.execute(
            "SELECT task_id, input_tokens + output_tokens, cost_usd, budget_tokens, budget_usd "
            f"FROM tasks WHERE task_id IN ({marks})",
            chunk,
        ):
            spend[str(task_id)] = TaskSpend(
                str(task_id),
                int(tokens),
                float(cost),
                None if budget_tokens is None else int(budget_tokens),
                None if budget_usd is None else float(budget_usd),
            )
    return spend
