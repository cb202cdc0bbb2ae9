"""The outcome report on both backends, against figures computed by hand."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from switchpoint.execution.records import AttemptRecord, CallRecord
from switchpoint.ledger.attempt_changes import ModelChanges
from switchpoint.ledger.database import Connection, Database
from switchpoint.ledger.outcomes import OutcomeReport, record_outcome
from switchpoint.ledger.reports import Report, ReportGroup, outcome_report
from switchpoint.ledger.url import parse_ledger_url
from switchpoint.ledger.writer import LedgerWriter
from tests.ledger import records

NOW = time.time()
DAY = 86_400.0


def scenario() -> tuple[list[CallRecord], list[OutcomeReport]]:
    calls: list[CallRecord] = []

    def add(cost: float | None, *, latency_ms: float, **fields: object) -> None:
        model = str(fields.pop("model", "gpt-5.5"))
        profile = str(fields.pop("served_profile", fields.get("workload", "terminal_agent")))
        call = records.call(
            attempts=[records.attempt(profile, model, usage=(1000, 100), cost=cost)],
            model=model,
            served_profile=profile,
            latency_s=latency_ms / 1000,
            ts=float(fields.pop("ts", NOW - 3600)),  # type: ignore[arg-type]
            **fields,  # type: ignore[arg-type]
        )
        calls.append(call)

    # Task A (team alpha): 3 calls, one of them downgraded to cost_sensitive / gpt-5.4.
    add(0.10, latency_ms=100, task_id="A", team="alpha")
    add(
        0.20,
        latency_ms=200,
        task_id="A",
        team="alpha",
        served_profile="cost_sensitive",
        model="gpt-5.4",
    )
    add(0.30, latency_ms=300, task_id="A", team="alpha")
    # Task B (team alpha): 2 calls, fails.
    add(0.25, latency_ms=400, task_id="B", team="alpha")
    add(0.25, latency_ms=500, task_id="B", team="alpha")
    # Task C (team beta): 1 deep_research call, two successful outcomes.
    add(
        0.05,
        latency_ms=50,
        task_id="C",
        team="beta",
        workload="deep_research",
        model="gemini-3.1-pro",
    )
    # Task D: no outcome yet.
    add(0.10, latency_ms=600, task_id="D")
    # A call outside any task, and one whose model has no price.
    add(0.40, latency_ms=700)
    add(None, latency_ms=60, workload="deep_research", model="gemini-3.1-pro")
    # Outside the 7-day window.
    add(9.99, latency_ms=5, task_id="A", ts=NOW - 30 * DAY)
    outcomes = [
        OutcomeReport("A", "pr_merged", "success"),
        OutcomeReport("B", "pr_merged", "failure"),
        OutcomeReport("C", "pr_merged", "success"),
        OutcomeReport("C", "ci_pass", "success"),
        OutcomeReport("E", "pr_merged", "success"),  # a task with no calls
    ]
    return calls, outcomes


@pytest.fixture
def connection(ledger_url: str) -> Iterator[Connection]:
    database = Database(parse_ledger_url(ledger_url))
    writer = LedgerWriter(database, flush_interval_s=60)
    writer.start()
    calls, outcomes = scenario()
    for call in calls:
        writer.submit(call)
    writer.close()
    assert writer.written_total == len(calls)
    connection = database.connect()
    for outcome in outcomes:
        record_outcome(connection, outcome, NOW)
    yield connection
    connection.close()


def report(connection: Connection, by: str, metric: str = "cost_per_completed_outcome") -> Report:
    return outcome_report(
        connection,
        since=NOW - 7 * DAY,
        until=NOW,
        by=by,
        metric=metric,  # type: ignore[arg-type]
    )


def groups(result: Report) -> dict[str | None, ReportGroup]:
    return {group.key: group for group in result.groups}


def test_by_workload(connection: Connection) -> None:
    result = report(connection, "workload")
    by = groups(result)
    agent = by["terminal_agent"]
    assert agent.requests == 7
    assert agent.cost_usd == pytest.approx(1.60)
    assert agent.tasks == 3  # A, B, D
    assert agent.completed_outcomes == 1
    assert agent.outcomes == 2
    assert agent.success_rate == pytest.approx(0.5)
    # A (0.60) + B (0.50, failed) + D (0.10, no outcome yet) for one merged PR.
    assert agent.cost_per_completed_outcome == pytest.approx(1.20)
    assert agent.tokens_per_completed_outcome == pytest.approx(6 * 1100)
    assert agent.fallback_rate == pytest.approx(1 / 7)
    assert agent.latency_p50_ms == pytest.approx(400)
    assert agent.latency_p95_ms == pytest.approx(700)
    research = by["deep_research"]
    assert research.requests == 2
    assert research.unpriced_requests == 1
    assert research.cost_usd == pytest.approx(0.05)
    assert research.completed_outcomes == 2
    assert research.cost_per_completed_outcome == pytest.approx(0.025)
    assert research.success_rate == pytest.approx(1.0)
    # Ranked by cost per completed outcome, cheapest first.
    assert [g.key for g in result.groups] == ["deep_research", "terminal_agent"]


def test_by_model_counts_a_task_once_under_the_model_most_of_its_calls_used(
    connection: Connection,
) -> None:
    by = groups(report(connection, "model"))
    assert by["gpt-5.4"].requests == 1
    assert by["gpt-5.4"].tasks == 0
    assert by["gpt-5.4"].cost_per_completed_outcome is None
    assert by["gpt-5.5"].requests == 6
    assert by["gpt-5.5"].tasks == 3
    assert by["gpt-5.5"].cost_usd == pytest.approx(1.40)
    # Task A's downgraded call still counts in its cost: 0.60 + 0.50 + 0.10.
    assert by["gpt-5.5"].cost_per_completed_outcome == pytest.approx(1.20)


def test_by_team(connection: Connection) -> None:
    by = groups(report(connection, "team"))
    assert by["alpha"].tasks == 2
    assert by["alpha"].cost_per_completed_outcome == pytest.approx(1.10)
    assert by["beta"].cost_per_completed_outcome == pytest.approx(0.025)
    assert by[None].requests == 3
    assert by[None].tasks == 1


def test_by_task_kind(connection: Connection) -> None:
    by = groups(report(connection, "task_kind"))
    merged = by["pr_merged"]
    assert merged.tasks == 3  # A, B, C (E has no calls)
    assert merged.requests == 6
    assert merged.completed_outcomes == 2
    assert merged.success_rate == pytest.approx(2 / 3)
    assert merged.cost_per_completed_outcome == pytest.approx((0.60 + 0.50 + 0.05) / 2)
    assert by["ci_pass"].cost_per_completed_outcome == pytest.approx(0.05)
    assert by[None].tasks == 1  # D
    assert by[None].requests == 3


def test_cost_per_token_metric_ranks_by_cost_per_million_tokens(connection: Connection) -> None:
    result = report(connection, "workload", metric="cost_per_token")
    by = groups(result)
    assert by["terminal_agent"].cost_per_mtok == pytest.approx(1.60 / (7 * 1100) * 1e6)
    assert [g.key for g in result.groups] == ["deep_research", "terminal_agent"]
    assert result.to_dict()["metric"] == "cost_per_token"


def test_an_empty_window_has_no_groups(connection: Connection) -> None:
    result = outcome_report(connection, since=NOW + DAY, until=NOW + DAY, by="workload")
    assert result.groups == []


def changed_attempt(
    model: str, capped: int | None = None, dropped: tuple[str, ...] = ()
) -> AttemptRecord:
    attempt = records.attempt("terminal_agent", model)
    attempt.output_capped = capped
    attempt.dropped_params = dropped
    return attempt


def test_attempt_changes_are_summarised_per_model(ledger_url: str) -> None:
    """How many attempts each model got, how many of them had their output capped, and
    which sampling settings were dropped how often; models nothing was changed for, and
    calls outside the window, are left out."""
    calls = [
        records.call(attempts=[changed_attempt("gpt-5.5", 1000, ("temperature",))]),
        records.call(attempts=[changed_attempt("gpt-5.5", 1000)]),
        records.call(attempts=[changed_attempt("gpt-5.5", None, ("temperature", "top_p"))]),
        records.call(attempts=[changed_attempt("gpt-5.5")]),
        # A failover: the first attempt capped, the second (another model) not changed.
        records.call(
            attempts=[changed_attempt("claude-opus-4-7", 128_000), changed_attempt("gpt-5.4")]
        ),
        records.call(attempts=[changed_attempt("gpt-5.4")]),
        records.call(
            attempts=[changed_attempt("gpt-5.5", 1000, ("top_p",))], ts=NOW - 30 * DAY
        ),
    ]
    database = Database(parse_ledger_url(ledger_url))
    writer = LedgerWriter(database, flush_interval_s=60)
    writer.start()
    for call in calls:
        writer.submit(call)
    writer.close()
    assert writer.written_total == len(calls)
    connection = database.connect()
    try:
        result = report(connection, "workload")
        unchanged = outcome_report(
            connection, since=NOW - 7 * DAY, until=NOW, by="team", changes=False
        )
    finally:
        connection.close()
    assert result.attempt_changes == [
        ModelChanges("gpt-5.5", attempts=4, output_capped=2,
                     dropped_params={"temperature": 2, "top_p": 1}),
        ModelChanges("claude-opus-4-7", attempts=1, output_capped=1, dropped_params={}),
    ]  # fmt: skip
    assert result.to_dict()["attempt_changes"][0] == {
        "model": "gpt-5.5",
        "attempts": 4,
        "output_capped": 2,
        "dropped_params": {"temperature": 2, "top_p": 1},
    }
    assert unchanged.attempt_changes == []
    assert unchanged.to_dict()["attempt_changes"] == []
