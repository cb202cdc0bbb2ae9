"""A vendor's hint of when to retry, as a delay the gateway can act on."""

from __future__ import annotations

# Past an hour a hint only says "not soon" (the call fails over at once: see
# `fallback.max_retry_after_s`), and a day says the same; larger figures would only
# overflow timers and headers.
MAX_RETRY_DELAY_S = 86_400.0


def retry_delay(seconds: float) -> float | None:
    """`seconds` as a delay: None when it is not one (negative, NaN), at most a day."""
    if not seconds >= 0:  # NaN compares false
        return None
    return min(seconds, MAX_RETRY_DELAY_S)
