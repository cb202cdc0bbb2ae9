"""`POST /v1/outcomes`: record what a task achieved.

Body: `{"task_id", "outcome": "success"|"failure", "kind": "pr_merged"|...|any label,
"value"?: number >= 0}`. Answers 200 with the stored outcome and whether it was
`created`, `updated` (a different outcome for the same task and kind) or `unchanged`
(the same post again). A task id with no calls yet is accepted: its calls count once
they arrive.
"""

from __future__ import annotations

import math
import time
from typing import Any

import orjson

from switchpoint.errors import invalid_request
from switchpoint.gateway import Gateway
from switchpoint.ingress.call_options import client_key, valid_task_id
from switchpoint.ingress.chat_endpoint import parse_json_object
from switchpoint.ingress.ledger_io import require_ledger, run_on_ledger
from switchpoint.ingress.task_access import check_task_team
from switchpoint.keys.access import Principal
from switchpoint.ledger.outcomes import OUTCOMES, OutcomeReport, record_outcome
from switchpoint.server.request import Request
from switchpoint.server.response import Response

_FIELDS = frozenset({"task_id", "outcome", "kind", "value"})
_MAX_KIND = 100


def parse_outcome(body: dict[str, Any], principal: Principal) -> OutcomeReport:
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise invalid_request(
            f"unknown field(s) {', '.join(map(repr, unknown))} "
            "(expected task_id, outcome, kind and optionally value)",
            unknown[0],
        )
    task_id = body.get("task_id")
    if not isinstance(task_id, str) or not valid_task_id(task_id):
        raise invalid_request(
            "'task_id' must be a string of 1 to 200 printable characters, as sent in "
            "X-Switchpoint-Task-Id",
            "task_id",
        )
    outcome = body.get("outcome")
    if outcome not in OUTCOMES:
        raise invalid_request(
            f"'outcome' must be 'success' or 'failure', got {_short(outcome)}", "outcome"
        )
    kind = body.get("kind")
    if (
        not isinstance(kind, str)
        or not kind
        or len(kind) > _MAX_KIND
        or not kind.isprintable()
        or kind != kind.strip()
    ):
        raise invalid_request(
            f"'kind' must be a label of 1 to {_MAX_KIND} printable characters "
            "(e.g. pr_merged, issue_resolved, ci_pass)",
            "kind",
        )
    value = body.get("value")
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid_request(f"'value' must be a number, got {_short(value)}", "value")
        value = float(value)
        if not math.isfinite(value) or value < 0:
            raise invalid_request(f"'value' must not be negative, got {value:g}", "value")
    assert outcome in ("success", "failure")
    return OutcomeReport(task_id, kind, outcome, value, principal.key_id, principal.team)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class OutcomeEndpoint:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, request: Request) -> Response:
        gateway = self.gateway
        principal = await gateway.authenticate(client_key(request))
        require_ledger(gateway)
        report = parse_outcome(parse_json_object(request.body), principal)
        await check_task_team(gateway, principal, report.task_id)
        stored, change = await run_on_ledger(
            gateway, lambda connection: record_outcome(connection, report, time.time())
        )
        return Response(200, orjson.dumps({**stored.to_dict(), "status": change}))
