"""Reads and occasional admin writes (keys, outcomes), on a connection of their own.

The batch writer owns the hot write path; this connection serves reports, task
aggregates, key management and outcomes. Its methods block: async callers run them in
a thread (`await asyncio.to_thread(store.run, ...)`), the CLI calls them directly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from switchpoint.ledger.database import UNAVAILABLE_ERRORS, Connection, Database

T = TypeVar("T")


class LedgerUnavailable(Exception):
    """The ledger database cannot be reached (down, disk full, ...)."""


class LedgerStore:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._connection: Connection | None = None
        self._lock = threading.Lock()

    def run(self, operation: Callable[[Connection], T]) -> T:
        """Run `operation` with the connection (reconnecting once if it was lost)."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._connection is None:
                        self._connection = self.database.connect()
                    return operation(self._connection)
                except UNAVAILABLE_ERRORS as exc:
                    self._drop_connection()
                    if attempt == 2:
                        raise LedgerUnavailable(str(exc).strip() or type(exc).__name__) from exc
            raise AssertionError("unreachable")

    def _drop_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        with self._lock:
            self._drop_connection()
