"""The memory of which team each task belongs to: bounded, most recently used kept."""

from __future__ import annotations

from switchpoint.keys.task_teams import OPEN, TaskTeams


def test_the_least_recently_used_task_is_forgotten_first() -> None:
    teams = TaskTeams(max_tasks=2)
    teams.remember("a", "alpha")
    teams.remember("b", OPEN)
    assert teams.known("a") == "alpha"  # now the most recently used
    teams.remember("c", "gamma")
    assert len(teams) == 2
    assert teams.known("b") is None
    assert (teams.known("a"), teams.known("c")) == ("alpha", "gamma")
