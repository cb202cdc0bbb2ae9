"""Provider failures, classified so that execution can decide what to do next."""

from __future__ import annotations

import email.utils
import time
from typing import Literal

from switchpoint.protocols.retry_delays import retry_delay

FailureKind = Literal[
    "rate_limited",  # 429: back off, retry
    "overloaded",  # 529 / 503 overloaded: back off, retry
    "server_error",  # other 5xx
    "connect",  # could not open a connection
    "timeout",  # no first byte / first token in time
    "stalled",  # a stream went silent past the idle limit
    "dropped",  # connection reset or closed mid-exchange
    "invalid_response",  # a 200 whose body is not what the protocol promises
    "truncated",  # a stream that ended without saying it was complete
    "stream_error",  # the provider reported an error inside the stream
    "context_length",  # the request is too long for the model
    "content_policy",  # refused on policy grounds
    "prefill_rejected",  # the model does not continue a trailing assistant turn
    "auth",  # our provider key was refused
    "quota",  # our account with the provider is out of quota
    "bad_request",  # any other 4xx: the client's request is at fault
    "unsupported",  # this target cannot give what the request asks for; another may
    "not_found",
    "unavailable",  # not configured (e.g. no API key)
    "local_resources",  # the gateway could not open a connection (out of descriptors)
]

RETRYABLE: frozenset[str] = frozenset(
    {
        "rate_limited",
        "overloaded",
        "server_error",
        "connect",
        "dropped",
        "invalid_response",
        "truncated",
        "stream_error",
    }
)


class ProviderError(Exception):
    """A failed attempt. `message` is safe to show a client (secrets already redacted)."""

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
        vendor_type: str | None = None,
        refused_setting: str | None = None,
        refused_alongside: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind
        self.message = message
        self.status = status
        self.retry_after_s = retry_after_s
        self.vendor_type = vendor_type
        # A request setting the vendor said this model does not take (OpenAI names it in
        # `param`): the request may be sent without it (`sampling_refusals.py`).
        self.refused_setting = refused_setting
        # ...when sent together with this one only (None: whenever it is sent).
        self.refused_alongside = refused_alongside

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE

    def __repr__(self) -> str:
        return f"ProviderError({self.kind!r}, status={self.status}, {self.message!r})"


def kind_for_status(status: int) -> FailureKind:
    if status == 429:
        return "rate_limited"
    if status in (503, 529):
        return "overloaded"
    if status >= 500:
        return "server_error"
    if status in (401, 403):
        return "auth"
    if status == 404:
        return "not_found"
    if status == 413:
        return "context_length"
    return "bad_request"


def parse_retry_after(headers: dict[str, str]) -> float | None:
    """Seconds to wait, from `retry-after-ms` (OpenAI) or `retry-after` (seconds or an
    HTTP date); None when neither holds one. A long wait is kept (capped at a day): it
    tells the retry policy to fail over rather than wait."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            delay = retry_delay(float(value) / 1000.0)
        except ValueError:
            delay = None
        if delay is not None:
            return delay
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return retry_delay(float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # neither seconds nor a date: no hint, not a failure of the gateway
    return retry_delay(max(0.0, parsed.timestamp() - time.time()))


# How vendors say that a model does not continue a trailing assistant message.
_PREFILL_MARKERS = (
    "does not support assistant message prefill",
    "conversation must end with a user message",
    "does not support a final assistant message",
    "final assistant message",
)


def is_prefill_rejection(message: str) -> bool:
    lowered = message.lower()
    return any(marker in lowered for marker in _PREFILL_MARKERS)
