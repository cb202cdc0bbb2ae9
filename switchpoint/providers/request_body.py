"""A request body as the bytes an adapter sends."""

from __future__ import annotations

from typing import Any

import orjson

from switchpoint.providers.errors import ProviderError

# orjson reads JSON nested 1,024 levels deep but writes at most 254: a client's body
# between the two parses and then cannot be written back out.
MAX_WRITTEN_DEPTH = 254
# What orjson raises (a TypeError) when it meets such a value.
DEPTH_ERROR_MESSAGE = "Recursion limit reached"

TOO_DEEP = (
    f"the request is nested too deeply to forward (more than {MAX_WRITTEN_DEPTH} levels of "
    "arrays and objects)"
)


def request_bytes(body: dict[str, Any]) -> bytes:
    """`body` as JSON; a body that cannot be written is the client's 400, not a 500."""
    try:
        return orjson.dumps(body)
    except TypeError:
        raise ProviderError("bad_request", TOO_DEEP, status=400) from None
