"""Task outcomes: what a task achieved (a merged PR, a passing CI run, ...).

One outcome per task and kind. Posting the same outcome again changes nothing;
posting a different one for the same kind replaces it (a CI run that failed and then
passed on retry ends as a pass). Outcomes for tasks with no calls yet are kept and
count as soon as the task's calls arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from switchpoint.ledger.database import Connection

OutcomeValue = Literal["success", "failure"]
OUTCOMES: tuple[OutcomeValue, ...] = ("success", "failure")
Change = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True, slots=True)
class OutcomeReport:
    task_id: str
    kind: str
    outcome: OutcomeValue
    value: float | None = None
    key_id: str | None = None
    team: str | None = None


@dataclass(frozen=True, slots=True)
class StoredOutcome:
    task_id: str
    kind: str
    outcome: str
    value: float | None
    recorded_at: float

    def to_dict(self) -> dict[str, object]:
        return {
            "task_id": self.task_id,
            "kind": self.kind,
            "outcome": self.outcome,
            "value": self.value,
            "recorded_at": self.recorded_at,
        }


_SELECT = "SELECT task_id, kind, outcome, value, recorded_at FROM outcomes"


def _stored(row: tuple[object, ...]) -> StoredOutcome:
    task_id, kind, outcome, value, recorded_at = row
    return StoredOutcome(
        str(task_id),
        str(kind),
        str(outcome),
        None if value is None else float(value),  # type: ignore[arg-type]
        float(recorded_at),  # type: ignore[arg-type]
    )


def task_outcomes(connection: Connection, task_id: str) -> list[StoredOutcome]:
    rows = connection.execute(f"{_SELECT} WHERE task_id = ? ORDER BY kind", (task_id,))
    return [_stored(row) for row in rows]


def record_outcome(
    connection: Connection, report: OutcomeReport, now: float
) -> tuple[StoredOutcome, Change]:
    with connection.transaction():
        rows = connection.execute(
            f"{_SELECT} WHERE task_id = ? AND kind = ?", (report.task_id, report.kind)
        )
        existing = _stored(rows[0]) if rows else None
        if (
            existing is not None
            and existing.outcome == report.outcome
            and existing.value == report.value
        ):
            return existing, "unchanged"
        connection.execute(
            "INSERT INTO outcomes (task_id, kind, outcome, value, recorded_at, key_id, team) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (task_id, kind) DO UPDATE SET outcome = excluded.outcome, "
            "value = excluded.value, recorded_at = excluded.recorded_at, "
            "key_id = excluded.key_id, team = excluded.team",
            (
                report.task_id,
                report.kind,
                report.outcome,
                report.value,
                now,
                report.key_id,
                report.team,
            ),
        )
    stored = StoredOutcome(report.task_id, report.kind, report.outcome, report.value, now)
    return stored, "created" if existing is None else "updated"
