"""Which team each recently seen task belongs to, so that a chat call on a task can be
checked against its key's team without a database read per call.

A task belongs to the team its first calls were made for (the ledger's `tasks.team`).
A worker learns a task's team from the ledger the first time it sees the task, or claims
it for the caller's team when the ledger has no call of it yet; the latest `max_tasks`
are kept. Two workers that see a new task within the ledger's flush interval, for two
teams, may each let their own team through until the ledger says otherwise to the next
worker that reads it; `GET /v1/tasks` and `POST /v1/outcomes` read the ledger itself.
"""

from __future__ import annotations

from collections import OrderedDict

# Recorded for a task whose calls carry no team (the master key's, a team-less key's):
# any team may join it, as the ledger's check allows.
OPEN = ""


class TaskTeams:
    __slots__ = ("_teams", "max_tasks")

    def __init__(self, max_tasks: int = 50_000) -> None:
        self.max_tasks = max_tasks
        self._teams: OrderedDict[str, str] = OrderedDict()

    def known(self, task_id: str) -> str | None:
        """The task's team (`OPEN` for a task of no team), or None when not known here."""
        team = self._teams.get(task_id)
        if team is not None:
            self._teams.move_to_end(task_id)
        return team

    def remember(self, task_id: str, team: str) -> None:
        teams = self._teams
        teams[task_id] = team
        teams.move_to_end(task_id)
        if len(teams) > self.max_tasks:
            teams.popitem(last=False)

    def __len__(self) -> int:
        return len(self._teams)
