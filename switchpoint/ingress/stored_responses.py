"""`GET` and `DELETE /v1/responses/{response_id}`: OpenAI's stored responses, which
switchpoint does not keep (it answers `/v1/responses` with `store: false`). A 404 that
says so, rather than one that leaves a client to wonder whether the id was wrong."""

from __future__ import annotations

from switchpoint.errors import GatewayError
from switchpoint.server.request import Request
from switchpoint.server.response import Response


async def stored_response(request: Request) -> Response:
    raise GatewayError(
        "not_found",
        "switchpoint does not store responses (every answer is given with store: false); "
        "keep the response the client received, and send the whole conversation again in "
        "'input' for the next turn",
    )
