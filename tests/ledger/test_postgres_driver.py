"""The PostgreSQL driver is loaded only for a PostgreSQL ledger, and its errors reach the
writer as the ledger's own kinds (unavailable versus a refused statement)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from switchpoint.ledger.database import (
    DATABASE_ERRORS,
    UNAVAILABLE_ERRORS,
    Database,
    DatabaseUnavailable,
)
from switchpoint.ledger.url import parse_ledger_url


def test_starting_the_gateway_with_sqlite_does_not_import_the_postgresql_driver() -> None:
    probe = (
        "import sys, switchpoint.cli.app, switchpoint.gateway\n"
        "print('psycopg' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "False"


def test_a_refused_statement_is_a_database_error_not_an_outage(postgres_url: str) -> None:
    connection = Database(parse_ledger_url(postgres_url)).connect()
    try:
        with pytest.raises(DATABASE_ERRORS) as refused:
            connection.execute("SELECT 1 / 0")
        assert not isinstance(refused.value, UNAVAILABLE_ERRORS)
        assert "division by zero" in str(refused.value)
    finally:
        connection.close()


def test_an_unreachable_server_is_unavailable() -> None:
    # A port nothing listens on (the discard port, refused at once on loopback).
    location = parse_ledger_url("postgresql://postgres@127.0.0.1:9/test")
    with pytest.raises(DatabaseUnavailable):
        Database(location).connect()
