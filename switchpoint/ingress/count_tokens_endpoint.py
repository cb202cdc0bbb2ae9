"""`POST /v1/messages/count_tokens`: Anthropic's token-counting endpoint, answered by
the gateway itself from its context-size estimate (no provider is called)."""

from __future__ import annotations

import orjson

from switchpoint.ingress.anthropic_messages import check_common
from switchpoint.ingress.chat_endpoint import parse_json_object
from switchpoint.routing.context_size import estimate_body_tokens
from switchpoint.server.request import Request
from switchpoint.server.response import Response


async def count_tokens(request: Request) -> Response:
    body = parse_json_object(request.body)
    check_common(body)
    return Response(200, orjson.dumps({"input_tokens": estimate_body_tokens(body)}))
