"""A virtual key may only act on tasks of its own team: read them, post their outcomes,
or make calls on them (which add to their spend and may declare their budget).

Keys with no team (and the master key) may act on any task.
"""

from __future__ import annotations

import logging

from switchpoint.errors import GatewayError
from switchpoint.gateway import Gateway
from switchpoint.ingress.ledger_io import run_on_ledger
from switchpoint.keys.access import Principal
from switchpoint.keys.task_teams import OPEN
from switchpoint.ledger.tasks import task_team

log = logging.getLogger("switchpoint.keys")


def _refuse(task_id: str) -> GatewayError:
    return GatewayError("permission", f"task {task_id!r} belongs to another team")


async def check_task_team(gateway: Gateway, principal: Principal, task_id: str) -> None:
    """For the task endpoints: the ledger as written so far (a task with no calls yet
    belongs to nobody)."""
    if principal.team is None:
        return
    has_calls, team = await run_on_ledger(
        gateway, lambda connection: task_team(connection, task_id), fresh=True
    )
    if has_calls and team is not None and team != principal.team:
        raise _refuse(task_id)


async def check_call_task_team(gateway: Gateway, principal: Principal, task_id: str) -> None:
    """For a chat call on a task: from memory once this worker has seen the task, else
    one ledger read (not waiting for the writer: the call is on the client's clock)."""
    team = principal.team
    if team is None:
        return
    teams = gateway.task_teams
    owner = teams.known(task_id)
    if owner is None:
        owner = team
        if gateway.ledger is not None:
            try:
                has_calls, stored = await run_on_ledger(
                    gateway, lambda connection: task_team(connection, task_id)
                )
            except GatewayError:
                # The database is down: calls still go through (their records wait in
                # the writer's queue), claimed for this team until the ledger is back.
                log.warning("task %r: its team could not be read from the ledger", task_id)
            else:
                if has_calls:
                    owner = OPEN if stored is None else stored
        # Another call on the task may have settled it while the ledger was read.
        settled = teams.known(task_id)
        if settled is None:
            teams.remember(task_id, owner)
        else:
            owner = settled
    if owner != team and owner != OPEN:
        raise _refuse(task_id)
