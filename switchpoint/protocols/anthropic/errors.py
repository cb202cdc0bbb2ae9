"""Anthropic's error body: `{"type": "error", "error": {"type", "message"}}`."""

from __future__ import annotations

from typing import Any

import orjson

from switchpoint.errors import ErrorKind, GatewayError

_TYPES: dict[ErrorKind, str] = {
    "invalid_request": "invalid_request_error",
    "authentication": "authentication_error",
    "permission": "permission_error",
    "not_found": "not_found_error",
    # Anthropic uses invalid_request_error for 4xx statuses it has no type of its own for.
    "method_not_allowed": "invalid_request_error",
    "request_too_large": "request_too_large",
    "context_length_exceeded": "invalid_request_error",
    "content_policy": "invalid_request_error",
    "rate_limit": "rate_limit_error",
    # Switchpoint's own: the same name as in OpenAI-shaped errors, so one check fits both.
    "budget_exceeded": "budget_exceeded",
    "overloaded": "overloaded_error",
    "timeout": "timeout_error",
    "upstream_error": "api_error",
    "unavailable": "api_error",
    "internal": "api_error",
}

# A status says more than the kind where Anthropic has a type for the status itself.
_TYPES_BY_STATUS = {413: "request_too_large", 529: "overloaded_error"}


def error_type(error: GatewayError) -> str:
    return _TYPES_BY_STATUS.get(error.status) or _TYPES[error.kind]


def error_body(error: GatewayError) -> dict[str, Any]:
    message = error.message
    if error.kind == "context_length_exceeded":
        # Anthropic's own words for it, which agents read to compact the conversation and
        # try again (Claude Code does), whichever vendor or rule refused it.
        if error.context is not None:
            tokens, limit = error.context
            message = f"prompt is too long: {tokens} tokens > {limit} maximum ({message})"
        else:
            message = f"prompt is too long ({message})"
    return {"type": "error", "error": {"type": error_type(error), "message": message}}


def encode_error(error: GatewayError) -> bytes:
    return orjson.dumps(error_body(error))


def parse_error(body: object) -> tuple[str | None, str | None]:
    """(message, type) from an Anthropic error body, tolerating variants."""
    if not isinstance(body, dict):
        return None, None
    error = body.get("error", body)
    if isinstance(error, dict):
        message = error.get("message")
        kind = error.get("type")
        return (
            message if isinstance(message, str) else None,
            kind if isinstance(kind, str) else None,
        )
    if isinstance(error, str):
        return error, None
    return None, None
