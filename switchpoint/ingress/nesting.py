"""A request nested deeper than the gateway can write back out: the client's 400.

orjson parses JSON nested up to 1,024 levels but writes at most 254, and a request is
written out again on its way (counted, forwarded). Checking the depth of every body
as it is parsed would cost every request a walk of it; instead the writer's own error,
which only such a body raises, is turned into the answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from switchpoint.errors import GatewayError, invalid_request
from switchpoint.providers.request_body import DEPTH_ERROR_MESSAGE, TOO_DEEP
from switchpoint.server.request import Request
from switchpoint.server.response import Response

Handler = Callable[[Request], Awaitable[Response]]


def nesting_error(exc: BaseException) -> GatewayError | None:
    """The 400 for `exc` if it is the writer's refusal of a too deeply nested value."""
    if type(exc) is TypeError and str(exc) == DEPTH_ERROR_MESSAGE:
        return invalid_request(TOO_DEEP)
    return None


def refusing_deep_nesting(handler: Handler) -> Handler:
    """`handler`, answering a too deeply nested request with a 400 rather than a 500."""

    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except TypeError as exc:
            error = nesting_error(exc)
            if error is None:
                raise
            raise error from None

    return guarded
