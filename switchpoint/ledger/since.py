"""Report windows: `7d`, `24h`, `30m`, `2w`, `all`, or an ISO 8601 date or time."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


class BadSince(ValueError):
    pass


def parse_since(text: str, now: float) -> float:
    """The unix time a window named by `text` starts at."""
    value = text.strip()
    if value.lower() == "all":
        return 0.0
    match = _SPAN.match(value)
    if match is not None:
        amount = float(match.group(1))
        return max(0.0, now - amount * _UNIT_S[match.group(2).lower()])
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadSince(
            f"since must be a span like 7d, 24h, 30m, 2w, 'all', or an ISO 8601 date; got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
