"""The PostgreSQL ledger connection (psycopg), its errors re-raised as the ledger's own.

Every call to the server is bounded, so that a database that stops answering makes the
call fail (and the writer mark the ledger unavailable and retry with backoff) instead
of blocking a thread forever:

- the server cancels a statement after `STATEMENT_TIMEOUT_S` (a lock wait included);
- TCP keepalives notice an idle connection whose peer vanished, and
  `tcp_user_timeout` one whose sent data goes unacknowledged;
- a server whose host still accepts bytes but never answers (a frozen process, a
  proxy in between) defeats all three, so the client also gives up on its own: a
  call still unanswered `_CLIENT_GRACE_S` after the statement timeout has its socket
  shut down, which makes psycopg fail it as a lost connection.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict

from switchpoint.ledger.database import DatabaseFailure, DatabaseUnavailable, Params, Row

_CONNECT_TIMEOUT_S = 5
# A ledger write batch takes milliseconds and a report seconds at most: a statement
# still running after this long means the database is stuck or gone.
STATEMENT_TIMEOUT_S = 30.0
# Beyond the server's own timeout, how long to wait for its answer before treating the
# connection as dead (the server's cancellation is the cleaner error, so it goes first).
_CLIENT_GRACE_S = 5.0
# An idle connection to a vanished peer is noticed after 10 + 3 x 5 = 25 s.
_KEEPALIVE_IDLE_S = 10
_KEEPALIVE_INTERVAL_S = 5
_KEEPALIVE_COUNT = 3
# Data the peer has not acknowledged for this long drops the connection (Linux).
_TCP_USER_TIMEOUT_MS = 30_000
_T = TypeVar("_T")


def _translated(error: psycopg.Error) -> DatabaseFailure:
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        return DatabaseUnavailable(str(error))
    return DatabaseFailure(str(error))


def _run(action: Callable[[], _T]) -> _T:
    try:
        return action()
    except psycopg.Error as error:
        raise _translated(error) from error


def _options(conninfo: str, statement_timeout_s: float) -> str:
    """The URL's own server options plus the statement timeout (unless it sets one)."""
    options = str(conninfo_to_dict(conninfo).get("options") or "")
    if "statement_timeout" in options:
        return options
    return f"{options} -c statement_timeout={round(statement_timeout_s * 1000)}".strip()


class _Watchdog:
    """One thread per process that runs the `expire` callback of each call still
    unanswered at its deadline. Calls register only while they run, so an idle (or
    forgotten) connection costs nothing; `expire` runs under the lock `disarm` takes,
    so it never touches a connection whose call has already returned."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._armed: dict[int, tuple[float, Callable[[], None]]] = {}
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None
        # When the thread is next due to look (None: asleep until something is armed).
        self._wake_at: float | None = None

    def arm(self, limit_s: float, expire: Callable[[], None]) -> int:
        due = time.monotonic() + limit_s
        with self._cond:
            token = next(self._tokens)
            self._armed[token] = (due, expire)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="switchpoint-ledger-deadlines", daemon=True
                )
                self._thread.start()
            elif self._wake_at is None or due < self._wake_at:
                self._cond.notify()
        return token

    def disarm(self, token: int) -> None:
        with self._cond:
            self._armed.pop(token, None)

    def _watch(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for token, (due, expire) in list(self._armed.items()):
                    if due <= now:
                        del self._armed[token]
                        expire()
                self._wake_at = min((due for due, _ in self._armed.values()), default=None)
                self._cond.wait(None if self._wake_at is None else self._wake_at - now)


_WATCHDOG = _Watchdog()


class PostgresConnection:
    backend = "postgresql"
    rows_per_statement = 512

    def __init__(self, conninfo: str, *, statement_timeout_s: float | None = None) -> None:
        timeout_s = STATEMENT_TIMEOUT_S if statement_timeout_s is None else statement_timeout_s
        self._conn = _run(
            lambda: psycopg.connect(
                conninfo,
                autocommit=True,
                connect_timeout=_CONNECT_TIMEOUT_S,
                application_name="switchpoint",
                options=_options(conninfo, timeout_s),
                keepalives=1,
                keepalives_idle=_KEEPALIVE_IDLE_S,
                keepalives_interval=_KEEPALIVE_INTERVAL_S,
                keepalives_count=_KEEPALIVE_COUNT,
                tcp_user_timeout=_TCP_USER_TIMEOUT_MS,
            )
        )
        self._limit_s = timeout_s + _CLIENT_GRACE_S
        self._expired = False
        self._sql: dict[str, str] = {}

    def _expire(self) -> None:
        # Shutting the socket down (not closing it: libpq owns the descriptor) wakes
        # the thread waiting on it, and psycopg reports the connection as lost.
        self._expired = True
        with contextlib.suppress(psycopg.Error, OSError):
            sock = socket.socket(fileno=self._conn.pgconn.socket)
            try:
                sock.shutdown(socket.SHUT_RDWR)
            finally:
                sock.detach()

    def _bounded(self, action: Callable[[], _T]) -> _T:
        token = _WATCHDOG.arm(self._limit_s, self._expire)
        try:
            return action()
        except psycopg.Error as error:
            if self._expired:
                raise DatabaseUnavailable(
                    f"no answer from the database within {self._limit_s:g} s"
                ) from error
            raise _translated(error) from error
        finally:
            _WATCHDOG.disarm(token)

    def _translate(self, sql: str) -> str:
        translated = self._sql.get(sql)
        if translated is None:
            translated = sql.replace("%", "%%").replace("?", "%s")
            self._sql[sql] = translated
        return translated

    def execute(self, sql: str, params: Params = ()) -> list[Row]:
        def execute() -> list[Row]:
            with self._conn.cursor() as cursor:
                cursor.execute(self._translate(sql), params)
                return list(cursor.fetchall()) if cursor.description else []

        return self._bounded(execute)

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        def executemany() -> None:
            with self._conn.cursor() as cursor:
                cursor.executemany(self._translate(sql), rows)

        self._bounded(executemany)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        # BEGIN and COMMIT (or ROLLBACK) are bounded like any statement; errors of the
        # body are already the ledger's.
        transaction = self._conn.transaction()
        self._bounded(transaction.__enter__)
        try:
            yield
        except BaseException as exc:
            # Roll back; `exc` is what went wrong, whether or not the rollback works (a
            # connection it fails on fails the next call too).
            with contextlib.suppress(DatabaseFailure):
                self._bounded(
                    functools.partial(transaction.__exit__, type(exc), exc, exc.__traceback__)
                )
            raise
        self._bounded(functools.partial(transaction.__exit__, None, None, None))

    def close(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self._conn.close()
