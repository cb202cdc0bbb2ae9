"""Request ids: unique across processes and restarts, and cheap to make."""

from __future__ import annotations

import itertools
import os

_prefix = os.urandom(5).hex()
_counter = itertools.count(1)


def new_request_id() -> str:
    return f"sp-{_prefix}{next(_counter):08x}"


def reseed() -> None:
    """Give a forked worker its own prefix."""
    global _prefix
    _prefix = os.urandom(5).hex()
