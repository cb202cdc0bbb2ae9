"""`POST /v1/route`: the routing decision for a request, without calling any provider."""

from __future__ import annotations

from typing import Any

import orjson

from switchpoint.errors import invalid_request
from switchpoint.gateway import Gateway
from switchpoint.ingress.call_options import parse_call_options
from switchpoint.ingress.chat_endpoint import parse_json_object
from switchpoint.protocols.fields import expect
from switchpoint.server.request import Request
from switchpoint.server.response import Response


def decision_body(
    gateway: Gateway,
    body: dict[str, Any],
    *,
    workload_header: str | None,
    budget_header: float | None,
    tokens_header: int | None,
) -> dict[str, Any]:
    """The decision for either a bare `{workload, estimated_context_tokens, budget}` or
    a full chat request (whose context size is then estimated)."""
    is_chat = "messages" in body
    workload = body.get("workload")
    if workload is not None:
        expect(workload, str, "workload")
    tokens = body.get("estimated_context_tokens")
    if tokens is not None:
        expect(tokens, int, "estimated_context_tokens")
        if tokens < 0:
            raise invalid_request(
                "'estimated_context_tokens' must not be negative", "estimated_context_tokens"
            )
    elif not is_chat:
        tokens = 0
    budget = body.get("budget")
    if budget is not None:
        expect(budget, float, "budget")
        if not 0.0 <= budget <= 1.0:
            raise invalid_request(f"'budget' must be between 0 and 1, got {budget}", "budget")
    model = body.get("model") if is_chat else None
    if model is not None:
        expect(model, str, "model")
    if is_chat:
        expect(body["messages"], list, "messages")
    decision, estimated = gateway.route(
        workload=workload if workload is not None else workload_header,
        model=model if workload is None and workload_header is None else None,
        budget=budget
        if budget is not None
        else (budget_header if budget_header is not None else 1.0),
        context_tokens=tokens if tokens is not None else tokens_header,
        body=body if is_chat else None,
    )
    result = decision.to_dict()
    result["estimated_context_tokens"] = estimated
    result["reliability_threshold"] = gateway.registry.reliability_threshold
    return result


class RouteEndpoint:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, request: Request) -> Response:
        body = parse_json_object(request.body)
        options = parse_call_options(request)
        has_budget = b"x-switchpoint-budget" in request.headers
        result = decision_body(
            self.gateway,
            body,
            workload_header=options.workload,
            budget_header=options.budget if has_budget else None,
            tokens_header=options.context_tokens,
        )
        return Response(200, orjson.dumps(result))
