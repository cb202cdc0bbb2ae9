"""Connections to the ledger database, SQLite or PostgreSQL, behind one small interface.

SQL is written once with `?` placeholders; the PostgreSQL connection rewrites them to
psycopg's `%s` (`postgres.py`, imported only when the ledger is PostgreSQL: the driver
costs a tenth of a second of start-up). SQLite runs in WAL mode (readers never block the
writer) with a busy timeout, so several worker processes can share one file.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from switchpoint.ledger.migrations import LATEST_VERSION, MIGRATIONS
from switchpoint.ledger.url import LedgerLocation

log = logging.getLogger("switchpoint.ledger")

Row = tuple[Any, ...]
Params = Sequence[Any]


class DatabaseFailure(Exception):
    """A driver's error that is not `sqlite3`'s (PostgreSQL's, re-raised as this so that
    catching them does not need the driver imported)."""


class DatabaseUnavailable(DatabaseFailure):
    """The database itself failed (down, connection lost), not a statement."""


# Failures of the database itself (down, disk full, locked, connection lost), as
# opposed to a statement or a value it rejects.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    sqlite3.OperationalError,
    DatabaseUnavailable,
    OSError,
)
DATABASE_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error, DatabaseFailure, OSError)

_BUSY_TIMEOUT_S = 30.0
# Any constant: the advisory lock that serialises migrations across processes.
_MIGRATION_LOCK = 0x5357_4C45_4447


class Connection(Protocol):
    backend: str
    # Rows per `executemany` when writing a batch: small for SQLite (binding holds the
    # GIL), larger for PostgreSQL (each call is a network round trip).
    rows_per_statement: int

    def execute(self, sql: str, params: Params = ()) -> list[Row]: ...

    def executemany(self, sql: str, rows: Sequence[Params]) -> None: ...

    def transaction(self) -> contextlib.AbstractContextManager[None]: ...

    def close(self) -> None: ...


# `get` of an empty dict: a C function that returns None whatever it is given (no
# Python frame per value bound).
_NOTHING: dict[object, None] = {}


def bind_natively() -> None:
    """Bind `None` and `bool` the way sqlite3 ends up binding them anyway (NULL, 0/1),
    without its adapter protocol. sqlite3 binds exact ints, floats, strings and bytes
    directly; any other value, `None` and `bool` included, is first looked up as an
    adapter, then as `__adapt__` on the protocol and `__conform__` on the value: two
    failed attribute lookups that each format an AttributeError message. A ledger row
    binds some twenty of them, and the writer thread shares the event loop's core:
    registered, each is one dict lookup and a C call. Process-wide, and it changes no
    stored value (for any other sqlite3 user in the process either)."""
    sqlite3.register_adapter(bool, int)
    sqlite3.register_adapter(type(None), _NOTHING.get)


class SqliteConnection:
    backend = "sqlite"
    rows_per_statement = 32

    def __init__(self, path: str) -> None:
        bind_natively()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: transactions are opened explicitly by `transaction()`.
        self._conn = sqlite3.connect(
            path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        # Commits are batched, so paying an fsync per commit costs little and makes
        # each committed batch durable.
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=OFF")

    def execute(self, sql: str, params: Params = ()) -> list[Row]:
        cursor = self._conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        self._conn.executemany(sql, rows)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front: no deadlock upgrading a read lock.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()


class Database:
    """One ledger database: opens connections to it and keeps its schema current."""

    def __init__(
        self, location: LedgerLocation, *, statement_timeout_s: float | None = None
    ) -> None:
        self.location = location
        # PostgreSQL only (None: its module's default); SQLite statements are local.
        self.statement_timeout_s = statement_timeout_s

    @property
    def backend(self) -> str:
        return self.location.backend

    def connect(self) -> Connection:
        """A new connection, with the schema migrated to the latest version."""
        connection: Connection
        if self.location.backend == "sqlite":
            connection = SqliteConnection(self.location.target)
        else:
            from switchpoint.ledger.postgres import PostgresConnection

            connection = PostgresConnection(
                self.location.target, statement_timeout_s=self.statement_timeout_s
            )
        try:
            migrate(connection)
        except BaseException:
            connection.close()
            raise
        return connection


def migrate(connection: Connection) -> int:
    """Apply the migrations this database lacks; returns how many were applied."""
    with connection.transaction():
        if connection.backend == "postgresql":
            connection.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
        connection.execute(
            "CREATE TABLE IF NOT EXISTS switchpoint_migrations ("
            "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at DOUBLE PRECISION NOT NULL)"
        )
        rows = connection.execute("SELECT version FROM switchpoint_migrations")
        applied = {row[0] for row in rows}
        newest = max(applied, default=0)
        if newest > LATEST_VERSION:
            log.warning(
                "the ledger schema is at version %d, newer than this switchpoint knows (%d)",
                newest,
                LATEST_VERSION,
            )
        count = 0
        for migration in MIGRATIONS:
            if migration.version in applied:
                continue
            for statement in migration.statements:
                connection.execute(statement)
            connection.execute(
                "INSERT INTO switchpoint_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, time.time()),
            )
            count += 1
    if count:
        log.info("ledger schema migrated to version %d", LATEST_VERSION)
    return count
