"""The gateway's HTTP application: which handler answers which route."""

from __future__ import annotations

import orjson

from switchpoint.errors import ErrorKind, GatewayError
from switchpoint.gateway import Gateway
from switchpoint.ingress.anthropic_messages import AnthropicMessagesCodec
from switchpoint.ingress.chat_endpoint import ChatEndpoint
from switchpoint.ingress.codec import IngressCodec
from switchpoint.ingress.count_tokens_endpoint import CountTokensEndpoint
from switchpoint.ingress.info_endpoints import InfoEndpoints
from switchpoint.ingress.key_endpoints import KeyEndpoints
from switchpoint.ingress.models_endpoints import ModelsEndpoints
from switchpoint.ingress.nesting import refusing_deep_nesting
from switchpoint.ingress.openai_chat import OpenAIChatCodec
from switchpoint.ingress.openai_responses import OpenAIResponsesCodec
from switchpoint.ingress.outcome_endpoint import OutcomeEndpoint
from switchpoint.ingress.protocol_refusals import ProtocolRefusals
from switchpoint.ingress.report_endpoint import ReportEndpoint
from switchpoint.ingress.route_endpoint import RouteEndpoint
from switchpoint.ingress.stored_responses import stored_response
from switchpoint.ingress.task_endpoint import TaskEndpoint
from switchpoint.observability.dashboard_endpoints import DashboardEndpoints
from switchpoint.observability.ledger_panel import LedgerPanel
from switchpoint.observability.metrics_endpoint import MetricsEndpoint
from switchpoint.server.request import Request
from switchpoint.server.response import Response
from switchpoint.server.router import Router

OPENAI = OpenAIChatCodec()
ANTHROPIC = AnthropicMessagesCodec()
RESPONSES = OpenAIResponsesCodec()

# Ingress protocols by the path prefix their errors are recognised by.
CODECS_BY_PREFIX: list[tuple[str, IngressCodec]] = [("/v1/messages", ANTHROPIC)]


def codec_for_path(path: str) -> IngressCodec:
    for prefix, codec in CODECS_BY_PREFIX:
        if path.startswith(prefix):
            return codec
    return OPENAI


def respond_error(request: Request, error: GatewayError) -> Response:
    codec = codec_for_path(request.path)
    return Response(error.status, orjson.dumps(codec.error_body(error)))


def render_protocol_error(status: int, kind: str, message: str, path: str) -> Response:
    """Errors found before a request is even parsed (bad HTTP, body too large), in the
    protocol its path implies (`path` is empty when even that is unknown)."""
    known: ErrorKind = "invalid_request"
    for candidate in _KINDS:
        if candidate == kind:
            known = candidate
    error = GatewayError(known, message, status=status)
    return Response(status, orjson.dumps(codec_for_path(path).error_body(error)))


_KINDS: frozenset[ErrorKind] = frozenset({"invalid_request", "request_too_large", "internal"})


# The chat endpoints (POST), by path.
CHAT_CODECS: dict[str, IngressCodec] = {
    "/v1/chat/completions": OPENAI,
    "/chat/completions": OPENAI,
    "/v1/responses": RESPONSES,
    "/responses": RESPONSES,
    "/v1/messages": ANTHROPIC,
}


def protocol_refusals(gateway: Gateway) -> ProtocolRefusals:
    """The server's renderer of refusals made before routing, recording chat ones."""
    chat_protocols = {path: codec.protocol for path, codec in CHAT_CODECS.items()}
    return ProtocolRefusals(gateway, render_protocol_error, chat_protocols)


def build_router(gateway: Gateway) -> Router:
    router = Router(respond_error)
    for path, codec in CHAT_CODECS.items():
        router.add("POST", path, ChatEndpoint(gateway, codec))
    router.add("GET", "/v1/responses/{response_id}", stored_response)
    router.add("DELETE", "/v1/responses/{response_id}", stored_response)
    router.add(
        "POST", "/v1/messages/count_tokens", refusing_deep_nesting(CountTokensEndpoint(gateway))
    )
    info = InfoEndpoints(gateway)
    models = ModelsEndpoints(gateway)
    router.add("GET", "/v1/models", models.list)
    # Model ids may hold a slash, which clients that do not encode it send as one.
    router.add("GET", "/v1/models/{model_id:path}", models.retrieve)
    router.add("GET", "/healthz", info.healthz)
    router.add("GET", "/readyz", info.readyz)
    router.add("POST", "/v1/route", refusing_deep_nesting(RouteEndpoint(gateway)))
    router.add("POST", "/v1/outcomes", OutcomeEndpoint(gateway))
    router.add("GET", "/v1/tasks/{task_id}", TaskEndpoint(gateway))
    keys = KeyEndpoints(gateway)
    router.add("POST", "/v1/keys", keys.create)
    router.add("GET", "/v1/keys", keys.list)
    router.add("DELETE", "/v1/keys/{key_id}", keys.revoke)
    router.add("GET", "/v1/reports/outcomes", ReportEndpoint(gateway))
    add_observability_routes(router, gateway)
    return router


def add_observability_routes(router: Router, gateway: Gateway) -> None:
    options = gateway.config.observability
    if gateway.exposition is not None:
        router.add(
            "GET",
            "/metrics",
            MetricsEndpoint(gateway.exposition, gateway.admin_auth, public=options.public_metrics),
        )
    if gateway.snapshots is not None:
        ledger = gateway.ledger
        panel = (
            LedgerPanel(ledger, gateway.config.routing.cost.metric) if ledger is not None else None
        )
        ui = DashboardEndpoints(gateway.snapshots, gateway.admin_auth, ledger=panel)
        router.add("GET", "/ui", ui.page)
        router.add("POST", "/ui/login", ui.login)
        router.add("GET", "/ui/logout", ui.logout)
        router.add("GET", "/ui/assets/{name}", ui.asset)
        router.add("GET", "/ui/api/snapshot", ui.snapshot)
