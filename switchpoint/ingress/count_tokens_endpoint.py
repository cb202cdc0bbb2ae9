"""`POST /v1/messages/count_tokens`: Anthropic's token-counting endpoint, answered by
the gateway itself (no provider is called) with the count it routes by: for the model
the body names (a profile, one of their models, or any Claude model), calibrated by the
usage that model has billed so far."""

from __future__ import annotations

import orjson

from switchpoint.chat.request import ChatRequest
from switchpoint.errors import GatewayError
from switchpoint.gateway import Gateway
from switchpoint.ingress.anthropic_messages import check_common
from switchpoint.ingress.call_options import client_key
from switchpoint.ingress.chat_endpoint import parse_json_object
from switchpoint.protocols.anthropic import PROTOCOL
from switchpoint.routing.workload import select_workload
from switchpoint.server.request import Request
from switchpoint.server.response import Response


class CountTokensEndpoint:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, request: Request) -> Response:
        gateway = self.gateway
        # Counting costs the gateway's CPU, up to the body limit: for callers only.
        await gateway.authenticate(client_key(request))
        body = parse_json_object(request.body)
        check_common(body)
        model = body.get("model")
        provider_type, provider = "anthropic", None
        try:
            selection = select_workload(gateway.registry, None, model)
        except GatewayError:
            pass  # a model no profile serves: counted as Anthropic counts it
        else:
            profile = gateway.registry.profiles[selection.profile]
            model = profile.model
            provider = profile.provider
            provider_type = gateway.config.providers[profile.provider].type
        chat_request = ChatRequest(PROTOCOL, body, stream=False)
        count = await gateway.counter.count_async(
            chat_request,
            model=model if isinstance(model, str) else "claude",
            provider_type=provider_type,
            provider=provider,
        )
        return Response(200, orjson.dumps({"input_tokens": count.tokens}))
