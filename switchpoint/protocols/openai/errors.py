"""OpenAI's error body: `{"error": {"message", "type", "param", "code"}}`."""

from __future__ import annotations

from typing import Any

import orjson

from switchpoint.errors import ErrorKind, GatewayError

_TYPES: dict[ErrorKind, str] = {
    "invalid_request": "invalid_request_error",
    "authentication": "authentication_error",
    "permission": "permission_error",
    "not_found": "not_found_error",
    "method_not_allowed": "invalid_request_error",
    "request_too_large": "invalid_request_error",
    "context_length_exceeded": "invalid_request_error",
    "content_policy": "invalid_request_error",
    "rate_limit": "rate_limit_error",
    "budget_exceeded": "budget_exceeded",
    "overloaded": "server_error",
    "timeout": "timeout_error",
    "upstream_error": "server_error",
    "unavailable": "server_error",
    "internal": "server_error",
}


def error_body(error: GatewayError) -> dict[str, Any]:
    return {
        "error": {
            "message": error.message,
            "type": _TYPES[error.kind],
            "param": error.param,
            "code": error.code or (error.kind if error.kind != "invalid_request" else None),
        }
    }


def encode_error(error: GatewayError) -> bytes:
    return orjson.dumps(error_body(error))


def error_param(body: object) -> str | None:
    """The request field an OpenAI-style error names as the one at fault (`param`)."""
    error = body.get("error") if isinstance(body, dict) else None
    param = error.get("param") if isinstance(error, dict) else None
    return param if isinstance(param, str) else None


def parse_error(body: object) -> tuple[str | None, str | None, str | None]:
    """(message, type, code) from an OpenAI-style error body, tolerating variants."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            message = error.get("message")
            kind = error.get("type")
            code = error.get("code")
            return (
                message if isinstance(message, str) else None,
                kind if isinstance(kind, str) else None,
                str(code) if code is not None else None,
            )
        if isinstance(error, str):
            return error, None, None
    return None, None, None
