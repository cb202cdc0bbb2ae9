"""`GET /v1/reports/outcomes?since=7d&by=workload|model|team|task_kind` (admin)."""

from __future__ import annotations

import time

import orjson

from switchpoint.errors import invalid_request
from switchpoint.gateway import Gateway
from switchpoint.ingress.call_options import client_key
from switchpoint.ingress.ledger_io import require_ledger, run_on_ledger
from switchpoint.ledger.reports import normalise_group_by, outcome_report
from switchpoint.ledger.since import BadSince, parse_since
from switchpoint.server.request import Request
from switchpoint.server.response import Response

_PARAMS = frozenset({"since", "by"})


class ReportEndpoint:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, request: Request) -> Response:
        gateway = self.gateway
        gateway.access.admin(client_key(request))
        require_ledger(gateway)
        params = request.query_params()
        unknown = sorted(set(params) - _PARAMS)
        if unknown:
            raise invalid_request(
                f"unknown query parameter(s) {', '.join(unknown)} (since, by)", unknown[0]
            )
        now = time.time()
        try:
            since = parse_since(params.get("since", "7d"), now)
        except BadSince as exc:
            raise invalid_request(str(exc), "since") from None
        try:
            by = normalise_group_by(params.get("by", "workload"))
        except ValueError as exc:
            raise invalid_request(str(exc), "by") from None
        metric = gateway.config.routing.cost.metric
        report = await run_on_ledger(
            gateway,
            lambda connection: outcome_report(
                connection, since=since, until=now, by=by, metric=metric
            ),
            fresh=True,
        )
        return Response(200, orjson.dumps(report.to_dict()))
