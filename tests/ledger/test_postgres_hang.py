"""A PostgreSQL that stops answering (the connection stays up, nothing comes back): every
call is bounded, so the writer marks the ledger unavailable and retries instead of
hanging, and a shutdown that cannot wait for a stuck call still accounts for its records.

The database "hangs" behind a proxy that keeps accepting bytes and answers nothing (as a
frozen server or a stalled middlebox would); the real server is never touched."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

import pytest

from switchpoint.config.schema import LedgerConfig
from switchpoint.ledger import postgres
from switchpoint.ledger import writer as writer_module
from switchpoint.ledger.database import Database, DatabaseUnavailable
from switchpoint.ledger.ledger import Ledger
from switchpoint.ledger.url import parse_ledger_url
from switchpoint.ledger.writer import LedgerWriter
from tests.ledger import records
from tests.waiting import wait_until


class BlackholeProxy:
    """Forwards to PostgreSQL until `hang()`; then swallows everything, both ways, on
    open connections and new ones alike, without closing any."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._hung = threading.Event()
        self._sockets: list[socket.socket] = []
        self.swallowed = 0

    def hang(self) -> None:
        self._hung.set()

    def resume(self) -> None:
        self._hung.clear()

    def __enter__(self) -> BlackholeProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._sockets.append(client)
            if self._hung.is_set():
                threading.Thread(target=self._pump, args=(client, None), daemon=True).start()
                continue
            server = socket.create_connection(self.upstream, timeout=5)
            server.settimeout(None)
            self._sockets.append(server)
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket | None) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if target is None or self._hung.is_set():
                    self.swallowed += len(data)
                    continue
                target.sendall(data)


def proxied(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}@127.0.0.1:{port}" if parts.username else f"127.0.0.1:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[BlackholeProxy]:
    parts = urlsplit(postgres_url)
    with BlackholeProxy((parts.hostname or "127.0.0.1", parts.port or 5432)) as running:
        yield running


def count_rows(url: str) -> int:
    connection = Database(parse_ledger_url(url)).connect()
    try:
        return int(connection.execute("SELECT COUNT(*) FROM requests")[0][0])
    finally:
        connection.close()


def test_connections_carry_a_statement_timeout_and_keep_the_urls_own_options(
    postgres_url: str,
) -> None:
    connection = postgres.PostgresConnection(parse_ledger_url(postgres_url).target)
    try:
        assert connection.execute("SHOW statement_timeout") == [("30s",)]
        # The test URL's `options=-csearch_path=...` still applies.
        schema = connection.execute("SELECT current_schema()")[0][0]
        assert str(schema).startswith("sp_test_")
        settings = connection._conn.info.get_parameters()
        assert settings["keepalives"] == "1"
        assert settings["tcp_user_timeout"] == "30000"
    finally:
        connection.close()


def test_the_configured_statement_timeout_reaches_the_server(postgres_url: str) -> None:
    # Reports over a very large ledger may need longer than the default 30 s.
    ledger = Ledger(LedgerConfig(url=postgres_url, statement_timeout_s=90))
    connection = ledger.database.connect()
    try:
        assert connection.execute("SHOW statement_timeout") == [("90s",)]
    finally:
        connection.close()
        ledger.store.close()


def test_a_statement_running_past_the_timeout_fails_as_unavailable(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres, "STATEMENT_TIMEOUT_S", 0.3)
    connection = postgres.PostgresConnection(parse_ledger_url(postgres_url).target)
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable, match="statement timeout"):
            connection.execute("SELECT pg_sleep(10)")
        assert time.monotonic() - started < 3
    finally:
        connection.close()


def test_a_database_that_stops_answering_is_marked_unavailable_then_caught_up(
    postgres_url: str, proxy: BlackholeProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Scaled down from 30 s + 5 s, so that the test takes seconds.
    monkeypatch.setattr(postgres, "STATEMENT_TIMEOUT_S", 1.0)
    monkeypatch.setattr(postgres, "_CLIENT_GRACE_S", 0.5)
    writer = LedgerWriter(
        Database(parse_ledger_url(proxied(postgres_url, proxy.port))), flush_interval_s=0.05
    )
    writer.start()
    try:
        for _ in range(3):
            writer.submit(records.call(task_id="t", key_id="k"))
        assert writer.flush_sync(10)
        proxy.hang()
        started = time.monotonic()
        for _ in range(5):
            writer.submit(records.call(task_id="t", key_id="k"))
        assert wait_until(lambda: not writer.available, 10)
        elapsed = time.monotonic() - started
        # The client's own deadline (1.5 s here), not the server's, ends the wait.
        assert 1.0 < elapsed < 6.0, elapsed
        assert writer.write_errors_total >= 1
        assert "no answer from the database within 1.5 s" in (writer.last_error or "")
        assert writer.queue_depth == 5
        proxy.resume()
        assert wait_until(lambda: writer.available and writer.queue_depth == 0, 30)
    finally:
        writer.close(timeout_s=2)
    assert count_rows(postgres_url) == 8


def test_close_accounts_for_records_held_by_a_call_that_never_returns(
    postgres_url: str,
    proxy: BlackholeProxy,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The call stays stuck past close(): its own deadline is far away.
    monkeypatch.setattr(postgres, "STATEMENT_TIMEOUT_S", 120.0)
    monkeypatch.setattr(writer_module, "_JOIN_SLACK_S", 0.5)
    writer = LedgerWriter(
        Database(parse_ledger_url(proxied(postgres_url, proxy.port))), flush_interval_s=0.05
    )
    writer.start()
    writer.submit(records.call())
    assert writer.flush_sync(10)
    proxy.hang()
    for _ in range(4):
        writer.submit(records.call())
    # The writer has sent its next batch's first statement into the void.
    assert wait_until(lambda: proxy.swallowed > 0, 5)
    caplog.set_level(logging.ERROR, "switchpoint.ledger")
    started = time.monotonic()
    writer.close(timeout_s=0.5)
    assert time.monotonic() - started < 3
    assert writer.running  # still stuck: this is the case being tested
    assert writer.dropped_total == 4
    assert writer.queue_depth == 0
    assert not writer.available
    assert any("stopping with 4 record(s) unwritten" in r.getMessage() for r in caplog.records)
