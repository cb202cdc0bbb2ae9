"""`POST /v1/route`: the routing decision for a request, without calling any provider.

The body is either a bare `{workload, estimated_context_tokens, budget, strategy}` or a
full chat request (OpenAI Chat's shape, Anthropic's with `"protocol": "anthropic"`, or
OpenAI Responses', recognised by its `input`), whose context is then counted as a call's
would be (always fully: no small-body shortcut) and, when it needs summarizing, planned:
the answer's `context` says what would be summarized, kept and sent, without a
summarizer being called.
"""

from __future__ import annotations

from typing import Any

import orjson

from switchpoint.budgets.estimate import requested_max_output
from switchpoint.chat.request import ChatRequest
from switchpoint.compaction.assessment import ContextAssessment, reserved_output
from switchpoint.compaction.measure import CountedSize, SmallSize
from switchpoint.config.schema import SummarizationStrategy
from switchpoint.errors import invalid_request
from switchpoint.gateway import Gateway
from switchpoint.ingress.anthropic_messages import AnthropicMessagesCodec
from switchpoint.ingress.call_options import context_strategy, parse_call_options
from switchpoint.ingress.chat_endpoint import parse_json_object
from switchpoint.ingress.codec import IngressCodec
from switchpoint.ingress.openai_chat import OpenAIChatCodec
from switchpoint.ingress.openai_responses import OpenAIResponsesCodec
from switchpoint.protocols.fields import expect
from switchpoint.routing.decision import RoutingDecision
from switchpoint.routing.resolve import rejected_error
from switchpoint.server.request import Request
from switchpoint.server.response import Response

_CODECS: dict[str, IngressCodec] = {
    "openai": OpenAIChatCodec(),
    "anthropic": AnthropicMessagesCodec(),
    "openai_responses": OpenAIResponsesCodec(),
}
_KEEP_MARKER = "switchpoint_keep"


def _chat_request(body: dict[str, Any]) -> ChatRequest:
    protocol = body.get("protocol", "openai" if "messages" in body else "openai_responses")
    codec = _CODECS.get(protocol) if isinstance(protocol, str) else None
    if codec is None:
        raise invalid_request(
            f"'protocol' must be one of {', '.join(sorted(_CODECS))}, got {protocol!r}",
            "protocol",
        )
    parsed = codec.parse(body)
    request = ChatRequest(codec.protocol, body, stream=parsed.stream, decoder=codec.decode)
    items = body.get("messages", body.get("input"))
    if isinstance(items, list) and any(isinstance(m, dict) and _KEEP_MARKER in m for m in items):
        request.conversation()  # the keep flags are read when decoding
    return request


async def decision_body(
    gateway: Gateway,
    body: dict[str, Any],
    *,
    workload_header: str | None,
    budget_header: float | None,
    tokens_header: int | None,
    strategy_header: SummarizationStrategy | None = None,
) -> dict[str, Any]:
    """The decision for either a bare `{workload, estimated_context_tokens, budget}` or
    a full chat request (whose context size is then counted)."""
    is_chat = "messages" in body or "input" in body
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
    strategy = strategy_header
    if body.get("strategy") is not None:
        strategy = context_strategy(expect(body["strategy"], str, "strategy"))
    model = body.get("model") if is_chat else None
    if model is not None:
        expect(model, str, "model")
    request = None
    if is_chat:
        request = _chat_request(body)
    assessment = await gateway.assess(
        request,
        workload=workload if workload is not None else workload_header,
        model=model if workload is None and workload_header is None else None,
        strategy=strategy,
        context_tokens=tokens if tokens is not None else tokens_header,
        max_output=requested_max_output(body) if is_chat else None,
    )
    if budget is None:
        budget = budget_header if budget_header is not None else 1.0
    decision, dispatched = gateway.route(assessment, budget=budget)
    result = decision.to_dict()
    result["estimated_context_tokens"] = decision.context_tokens
    result["reliability_threshold"] = gateway.registry.reliability_threshold
    result["context"] = context_view(gateway, assessment, decision, dispatched)
    return result


def context_view(
    gateway: Gateway,
    assessment: ContextAssessment,
    decision: RoutingDecision,
    dispatched: int,
) -> dict[str, Any]:
    """The context decision, spelled out: how the size was found, for which profile,
    the limits it was compared with, and what a summarization would do."""
    registry = gateway.registry
    profile = registry.profiles[decision.profile]
    size = assessment.size
    view: dict[str, Any] = {
        "action": decision.context_action,
        "strategy": decision.context_strategy,
        "tokens": decision.context_tokens,
        "tokens_dispatched": dispatched,
        "reliability_threshold": registry.reliability_threshold,
        "max_context": profile.max_context,
        "reserved_output": reserved_output(gateway.config, profile, assessment.max_output),
    }
    # The size for the profile asked for and for the one chosen (vendors count apart).
    counts: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys((decision.requested_profile, decision.profile)):
        counted = registry.profiles[name]
        entry: dict[str, Any] = {"model": counted.model, "tokens": size.tokens(counted)}
        if isinstance(size, CountedSize):
            count = size.count(counted)
            entry["counted"] = "exact" if count.exact else count.basis
            entry["error_bound"] = count.error_bound
        else:
            entry["counted"] = "body_length" if isinstance(size, SmallSize) else "given"
        counts[name] = entry
    view["counted"] = counts[profile.name]["counted"]
    if "error_bound" in counts[profile.name]:
        view["error_bound"] = counts[profile.name]["error_bound"]
    view["counts"] = counts
    planned = assessment.planned
    if planned is not None:
        summary = planned.outlook.to_dict()
        summary["summarizer_profile"] = registry.summarizer_profile
        view["summarization"] = summary
    if decision.context_action == "rejected":
        view["error"] = rejected_error(registry, decision).message
    return view


class RouteEndpoint:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, request: Request) -> Response:
        options = parse_call_options(request)
        # It says how calls are routed (profiles, models, chains): for callers only.
        await self.gateway.authenticate(options.client_key)
        body = parse_json_object(request.body)
        has_budget = b"x-switchpoint-budget" in request.headers
        result = await decision_body(
            self.gateway,
            body,
            workload_header=options.workload,
            budget_header=options.budget if has_budget else None,
            tokens_header=options.context_tokens,
            strategy_header=options.context_strategy,
        )
        return Response(200, orjson.dumps(result))
