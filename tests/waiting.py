"""Waiting, in a test, for something another thread or process does."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    predicate: Callable[[], object], seconds: float = 10.0, *, every_s: float = 0.02
) -> bool:
    """Whether `predicate()` became true within `seconds` (polled every `every_s`)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every_s)
    return bool(predicate())
