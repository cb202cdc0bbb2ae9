"""`GET /v1/tasks/{task_id}`: a task's aggregate: calls, tokens, cost, models, outcomes."""

from __future__ import annotations

from urllib.parse import unquote

import orjson

from switchpoint.errors import GatewayError, invalid_request
from switchpoint.gateway import Gateway
from switchpoint.ingress.call_options import client_key, valid_task_id
from switchpoint.ingress.ledger_io import require_ledger, run_on_ledger
from switchpoint.ingress.task_access import check_task_team
from switchpoint.ledger.tasks import TaskSummary, task_summary
from switchpoint.server.request import Request
from switchpoint.server.response import Response

PREFIX = "/v1/tasks/"


def _left(limit: float | None, used: float) -> float | None:
    return None if limit is None else max(0.0, limit - used)


def task_body(summary: TaskSummary) -> dict[str, object]:
    budget = None
    if summary.budget_tokens is not None or summary.budget_usd is not None:
        budget = {
            "tokens": summary.budget_tokens,
            "usd": summary.budget_usd,
            "tokens_left": _left(summary.budget_tokens, summary.tokens),
            "usd_left": _left(summary.budget_usd, summary.cost_usd),
        }
    return {
        "task_id": summary.task_id,
        "calls": summary.calls,
        "attempts": summary.attempts,
        "input_tokens": summary.input_tokens,
        "cached_input_tokens": summary.cached_input_tokens,
        "cache_write_tokens": summary.cache_write_tokens,
        "output_tokens": summary.output_tokens,
        "tokens": summary.tokens,
        "cost_usd": summary.cost_usd,
        # False when some call's model has no price: cost_usd then counts the others.
        "cost_complete": summary.unpriced_calls == 0,
        "unpriced_calls": summary.unpriced_calls,
        "models": summary.models,
        "workload": summary.workload,
        "team": summary.team,
        "started_at": summary.first_ts,
        "last_activity_at": summary.last_ts,
        "wall_time_s": summary.wall_time_s,
        "budget": budget,
        "outcomes": [outcome.to_dict() for outcome in summary.outcomes],
    }


class TaskEndpoint:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, request: Request) -> Response:
        gateway = self.gateway
        principal = await gateway.authenticate(client_key(request))
        require_ledger(gateway)
        task_id = unquote(request.path[len(PREFIX) :])
        if not valid_task_id(task_id):
            raise invalid_request("the task id must be 1 to 200 printable characters", "task_id")
        await check_task_team(gateway, principal, task_id)
        summary = await run_on_ledger(
            gateway, lambda connection: task_summary(connection, task_id), fresh=True
        )
        if summary is None:
            raise GatewayError("not_found", f"no calls or outcomes for task {task_id!r}")
        return Response(200, orjson.dumps(task_body(summary)))
