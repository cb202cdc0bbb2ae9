"""Request ids: unique across processes and restarts, and cheap to make; and the headers
that carry one in a chat path's answers."""

from __future__ import annotations

import itertools
import os

from switchpoint.protocols.anthropic import PROTOCOL as ANTHROPIC_PROTOCOL

_prefix = os.urandom(5).hex()
_counter = itertools.count(1)


def new_request_id() -> str:
    return f"sp-{_prefix}{next(_counter):08x}"


def request_id_headers(protocol: str, request_id: str) -> list[tuple[str, str]]:
    return [
        ("x-switchpoint-request-id", request_id),
        # Where each vendor's SDK reads the request id (`_request_id`, and an error's
        # `request_id`), which clients log with their failures.
        ("request-id" if protocol == ANTHROPIC_PROTOCOL else "x-request-id", request_id),
    ]


def reseed() -> None:
    """Give a forked worker its own prefix."""
    global _prefix
    _prefix = os.urandom(5).hex()
