"""Ledger reads and writes from endpoints: off the event loop, failures as client errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from switchpoint.errors import GatewayError
from switchpoint.gateway import Gateway
from switchpoint.ledger.database import DATABASE_ERRORS, Connection
from switchpoint.ledger.ledger import Ledger
from switchpoint.ledger.store import LedgerUnavailable

T = TypeVar("T")

# How long a read waits for queued records to be written first (then reads anyway).
_FLUSH_WAIT_S = 2.0
_LEDGER_ERRORS: tuple[type[BaseException], ...] = (LedgerUnavailable, *DATABASE_ERRORS)


def require_ledger(gateway: Gateway) -> Ledger:
    if gateway.ledger is None:
        raise GatewayError(
            "not_found", "this gateway runs without a ledger (ledger.enabled is false)"
        )
    return gateway.ledger


async def run_on_ledger(
    gateway: Gateway, operation: Callable[[Connection], T], *, fresh: bool = False
) -> T:
    """Run `operation` on the ledger's store in a thread. `fresh` first waits (briefly)
    for calls already finished to be written, so a read includes them."""
    ledger = require_ledger(gateway)
    if fresh:
        await ledger.writer.flushed(_FLUSH_WAIT_S)
    try:
        return await asyncio.to_thread(ledger.store.run, operation)
    except _LEDGER_ERRORS as exc:
        raise GatewayError(
            "unavailable", f"the ledger database is unavailable ({type(exc).__name__})"
        ) from None
