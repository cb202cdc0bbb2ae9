"""The errors a client can receive, independent of the protocol it speaks.

Each ingress renders a `GatewayError` in its own wire shape (OpenAI's `{"error": {...}}`,
Anthropic's `{"type": "error", ...}`); nothing else reaches the client, so no stack trace
or provider key can leak through an error path.
"""

from __future__ import annotations

from typing import Literal

ErrorKind = Literal[
    "invalid_request",
    "authentication",
    "permission",
    "not_found",
    "method_not_allowed",
    "request_too_large",
    "context_length_exceeded",
    "content_policy",
    "rate_limit",
    "budget_exceeded",
    "overloaded",
    "timeout",
    "upstream_error",
    "unavailable",
    "internal",
]

_DEFAULT_STATUS: dict[ErrorKind, int] = {
    "invalid_request": 400,
    "authentication": 401,
    "permission": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "request_too_large": 413,
    "context_length_exceeded": 400,
    "content_policy": 400,
    "rate_limit": 429,
    "budget_exceeded": 429,
    "overloaded": 529,
    "timeout": 504,
    "upstream_error": 502,
    "unavailable": 503,
    "internal": 500,
}


class GatewayError(Exception):
    """An error answer. `message` is shown to the client verbatim, so it must never
    carry secrets; `param` names the offending field when there is one."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        param: str | None = None,
        code: str | None = None,
        retry_after_s: float | None = None,
        context: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.status = status if status is not None else _DEFAULT_STATUS[kind]
        self.param = param
        self.code = code
        self.retry_after_s = retry_after_s
        # A context overflow's (tokens, limit), when known: the tokens are the gateway's
        # estimate, the limit the context it did not fit. Protocols that state them in
        # their own words (Anthropic's "prompt is too long") read them from here.
        self.context = context

    def __repr__(self) -> str:
        return f"GatewayError({self.kind!r}, {self.message!r}, status={self.status})"


def invalid_request(message: str, param: str | None = None) -> GatewayError:
    return GatewayError("invalid_request", message, param=param)
