"""The PostgreSQL ledger connection (psycopg), its errors re-raised as the ledger's own."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import psycopg

from switchpoint.ledger.database import DatabaseFailure, DatabaseUnavailable, Params, Row

_CONNECT_TIMEOUT_S = 5
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


class PostgresConnection:
    backend = "postgresql"
    rows_per_statement = 512

    def __init__(self, conninfo: str) -> None:
        self._conn = _run(
            lambda: psycopg.connect(
                conninfo,
                autocommit=True,
                connect_timeout=_CONNECT_TIMEOUT_S,
                application_name="switchpoint",
            )
        )
        self._sql: dict[str, str] = {}

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

        return _run(execute)

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        def executemany() -> None:
            with self._conn.cursor() as cursor:
                cursor.executemany(self._translate(sql), rows)

        _run(executemany)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        # Errors of the body are already the ledger's; the commit's and rollback's are
        # psycopg's until translated here.
        try:
            with self._conn.transaction():
                yield
        except psycopg.Error as error:
            raise _translated(error) from error

    def close(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self._conn.close()
