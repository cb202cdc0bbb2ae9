"""The batch writer against real SQLite and PostgreSQL: what it writes, when, and what
happens when the database is slow, full, down or refuses a record."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from switchpoint.ledger.database import Connection, Database, SqliteConnection, migrate
from switchpoint.ledger.migrations import MIGRATIONS
from switchpoint.ledger.url import parse_ledger_url
from switchpoint.ledger.writer import LedgerWriter
from tests.ledger import records
from tests.ledger.tcp_proxy import TcpProxy
from tests.waiting import wait_until


def database(url: str) -> Database:
    return Database(parse_ledger_url(url))


def query(url: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    connection = database(url).connect()
    try:
        return connection.execute(sql, params)
    finally:
        connection.close()


def count(url: str, table: str = "requests") -> int:
    return int(query(url, f"SELECT COUNT(*) FROM {table}")[0][0])  # type: ignore[arg-type]


@pytest.fixture
def writers() -> Iterator[list[LedgerWriter]]:
    made: list[LedgerWriter] = []
    yield made
    for writer in made:
        writer.close(timeout_s=2)


def start_writer(
    writers: list[LedgerWriter], db: Database | str, **settings: float | int
) -> LedgerWriter:
    writer = LedgerWriter(db if isinstance(db, Database) else database(db), **settings)  # type: ignore[arg-type]
    writer.start()
    writers.append(writer)
    return writer


def test_a_call_is_one_request_row_plus_one_row_per_attempt(
    ledger_url: str, writers: list[LedgerWriter]
) -> None:
    writer = start_writer(writers, ledger_url, flush_interval_s=60)
    failed = records.attempt("terminal_agent", "gpt-5.5", usage=None, outcome="server_error")
    retried = records.attempt("terminal_agent", "gpt-5.5", usage=(50, 0), cost=0.0002)
    served = records.attempt(
        "cost_sensitive", "gpt-5.4", usage=(1000, 200), cost=0.005, reason="fallback"
    )
    call = records.call(
        task_id="task-1",
        key_id="k1",
        team="alpha",
        served_profile="cost_sensitive",
        attempts=[failed, retried, served],
        latency_s=1.25,
    )
    writer.submit(call)
    assert writer.flush_sync(10)

    [row] = query(
        ledger_url,
        "SELECT request_id, key_id, team, workload, task_id, profile, model, attempts, "
        "fallback, input_tokens, output_tokens, cost_usd, cost_known, latency_ms "
        "FROM requests",
    )
    assert row[:7] == (
        call.request_id,
        "k1",
        "alpha",
        "terminal_agent",
        "task-1",
        "cost_sensitive",
        "gpt-5.4",
    )
    assert row[7] == 3
    assert bool(row[8]) is True  # served by another profile than requested
    # Tokens and cost of every attempt that consumed them, the failed retry included.
    assert row[9:11] == (1050, 200)
    assert row[11] == pytest.approx(0.0052)
    assert bool(row[12]) is True
    assert row[13] == pytest.approx(1250.0)
    attempts = query(
        ledger_url, "SELECT seq, model, reason, outcome, cost_usd FROM attempts ORDER BY seq"
    )
    assert [(a[0], a[1], a[2], a[3]) for a in attempts] == [
        (0, "gpt-5.5", "first", "server_error"),
        (1, "gpt-5.5", "first", "ok"),
        (2, "gpt-5.4", "fallback", "ok"),
    ]
    assert attempts[0][4] is None
    assert attempts[2][4] == pytest.approx(0.005)


def test_unknown_price_is_recorded_as_unknown_not_zero(
    ledger_url: str, writers: list[LedgerWriter]
) -> None:
    writer = start_writer(writers, ledger_url, flush_interval_s=60)
    unpriced = records.attempt("cost_sensitive", "mystery-model", usage=(10, 5), cost=None)
    writer.submit(records.call(workload="cost_sensitive", attempts=[unpriced], task_id="t"))
    assert writer.flush_sync(10)
    [(cost, known)] = query(ledger_url, "SELECT cost_usd, cost_known FROM requests")
    assert cost is None
    assert not known
    [(task_cost, unpriced_calls)] = query(ledger_url, "SELECT cost_usd, unpriced_calls FROM tasks")
    assert task_cost == 0.0
    assert unpriced_calls == 1


def test_rollups_sum_the_requests_they_were_written_with(
    ledger_url: str, writers: list[LedgerWriter]
) -> None:
    writer = start_writer(writers, ledger_url, flush_interval_s=60, max_batch=7)
    for i in range(25):
        writer.submit(
            records.call(
                task_id=f"task-{i % 3}",
                key_id="key-a" if i % 2 else "key-b",
                attempts=[records.attempt("terminal_agent", "gpt-5.5", usage=(100, i), cost=0.01)],
            )
        )
    assert writer.flush_sync(10)
    tasks = {
        row[0]: row[1:]
        for row in query(ledger_url, "SELECT task_id, calls, output_tokens, cost_usd FROM tasks")
    }
    expected = {
        f"task-{t}": (
            sum(1 for i in range(25) if i % 3 == t),
            sum(i for i in range(25) if i % 3 == t),
        )
        for t in range(3)
    }
    assert {k: (v[0], v[1]) for k, v in tasks.items()} == expected
    assert tasks["task-0"][2] == pytest.approx(0.01 * 9)
    spend = dict(query(ledger_url, "SELECT key_id, SUM(cost_usd) FROM key_spend GROUP BY key_id"))
    assert spend["key-a"] == pytest.approx(0.12)
    assert spend["key-b"] == pytest.approx(0.13)
    assert writer.batches_total == 4  # 25 records in batches of at most 7


def test_records_are_written_within_the_flush_interval_without_being_asked(
    sqlite_url: str, writers: list[LedgerWriter]
) -> None:
    writer = start_writer(writers, sqlite_url, flush_interval_s=0.1)
    writer.submit(records.call())
    assert wait_until(lambda: writer.written_total == 1, 10)
    assert count(sqlite_url) == 1


def test_a_full_batch_is_written_before_the_flush_interval(
    sqlite_url: str, writers: list[LedgerWriter]
) -> None:
    # Under load the queue must not wait for the interval: what it holds is memory.
    writer = start_writer(writers, sqlite_url, flush_interval_s=60, max_batch=10)
    for _ in range(9):
        writer.submit(records.call())
    time.sleep(0.3)
    assert writer.written_total == 0  # below a batch: waits for the interval
    writer.submit(records.call())
    assert wait_until(lambda: writer.written_total == 10, 10)
    assert count(sqlite_url) == 10


def test_close_writes_everything_still_queued(ledger_url: str, writers: list[LedgerWriter]) -> None:
    writer = start_writer(writers, ledger_url, flush_interval_s=60, max_batch=500)
    for _ in range(2000):
        writer.submit(records.call(task_id="t"))
    writer.close(timeout_s=30)
    assert count(ledger_url) == 2000
    assert count(ledger_url, "attempts") == 2000
    assert writer.dropped_total == 0


async def test_flushed_waits_for_the_records_submitted_before_it(
    ledger_url: str, writers: list[LedgerWriter]
) -> None:
    writer = start_writer(writers, ledger_url, flush_interval_s=60)
    for _ in range(10):
        writer.submit(records.call())
    assert await writer.flushed(10)
    assert await asyncio.to_thread(count, ledger_url) == 10


def test_schema_is_created_on_first_use_and_migrations_run_once(ledger_url: str) -> None:
    first = database(ledger_url).connect()
    try:
        assert migrate(first) == 0  # connect() already migrated
        versions = first.execute("SELECT version FROM switchpoint_migrations")
        assert versions == [(migration.version,) for migration in MIGRATIONS]
        tables = {"requests", "attempts", "outcomes", "tasks", "key_spend", "virtual_keys"}
        for table in tables:
            assert first.execute(f"SELECT COUNT(*) FROM {table}") == [(0,)]
    finally:
        first.close()


def test_sqlite_and_postgresql_get_the_same_columns(sqlite_url: str, postgres_url: str) -> None:
    def sqlite_columns(table: str) -> list[str]:
        return [str(row[1]) for row in query(sqlite_url, f"PRAGMA table_info({table})")]

    def postgres_columns(table: str) -> list[str]:
        return [
            str(row[0])
            for row in query(
                postgres_url,
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = ? AND table_schema = current_schema() "
                "ORDER BY ordinal_position",
                (table,),
            )
        ]

    for table in ("requests", "attempts", "outcomes", "tasks", "key_spend", "virtual_keys"):
        assert sqlite_columns(table) == postgres_columns(table), table
        assert sqlite_columns(table)


def test_sqlite_uses_wal_and_creates_missing_directories(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'er' / 'ledger.db'}"
    assert query(url, "PRAGMA journal_mode") == [("wal",)]
    assert (tmp_path / "deep" / "er" / "ledger.db").exists()


def test_sqlite_binds_none_and_booleans_without_the_adapter_protocol(tmp_path: Path) -> None:
    connection = database(f"sqlite:///{tmp_path / 'ledger.db'}").connect()
    try:
        # Registered, so binding them is a dict lookup, not two failed attribute lookups.
        assert (bool, sqlite3.PrepareProtocol) in sqlite3.adapters
        assert (type(None), sqlite3.PrepareProtocol) in sqlite3.adapters
        # ... and stored exactly as sqlite3 stores them unregistered: NULL, and 1/0.
        rows = connection.execute(
            "SELECT typeof(?), ? IS NULL, typeof(?), ?, typeof(?), ?",
            (None, None, True, True, False, False),
        )
    finally:
        connection.close()
    assert rows == [("null", 1, "integer", 1, "integer", 0)]


class _SmallDisk(Database):
    """SQLite with a page limit: writes past it fail with SQLITE_FULL, as on a full disk."""

    max_pages = 40

    def connect(self) -> Connection:
        connection = super().connect()
        assert isinstance(connection, SqliteConnection)
        connection.execute(f"PRAGMA max_page_count = {self.max_pages}")
        return connection


def test_disk_full_keeps_records_in_memory_and_writes_them_once_there_is_room(
    sqlite_url: str, writers: list[LedgerWriter], caplog: pytest.LogCaptureFixture
) -> None:
    db = _SmallDisk(parse_ledger_url(sqlite_url))
    db.connect().close()
    writer = start_writer(writers, db, flush_interval_s=0.05, max_batch=50)
    caplog.set_level(logging.ERROR, "switchpoint.ledger")
    submitted = 0
    while writer.available and submitted < 20_000:
        for _ in range(50):
            writer.submit(records.call(task_id="t"))
        submitted += 50
        wait_until(lambda: writer.queue_depth == 0 or not writer.available)
    assert not writer.available, "the page limit never filled up"
    assert "database or disk is full" in (writer.last_error or "")
    assert any("unavailable" in r.getMessage() for r in caplog.records)
    assert writer.queue_depth > 0
    db.max_pages = 1_000_000  # room again (a reconnect applies it)
    assert wait_until(lambda: writer.queue_depth == 0, 20)
    assert writer.available
    assert count(sqlite_url) == submitted
    assert writer.dropped_total == 0


def test_an_unreachable_sqlite_path_is_retried_until_it_exists(
    tmp_path: Path, writers: list[LedgerWriter]
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the ledger's directory should be")
    url = f"sqlite:///{blocker / 'ledger.db'}"
    writer = start_writer(writers, url, flush_interval_s=0.05)
    for _ in range(5):
        writer.submit(records.call())
    assert wait_until(lambda: not writer.available, 10)
    blocker.unlink()
    assert wait_until(lambda: writer.written_total == 5, 20)
    assert count(url) == 5


def _proxied(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    netloc = (
        f"{parts.username}@127.0.0.1:{proxy.port}" if parts.username else f"127.0.0.1:{proxy.port}"
    )
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def test_postgres_outage_queues_records_then_writes_each_exactly_once(
    postgres_url: str, writers: list[LedgerWriter]
) -> None:
    parts = urlsplit(postgres_url)
    with TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        url = _proxied(postgres_url, proxy)
        writer = start_writer(writers, url, flush_interval_s=0.05)
        for _ in range(5):
            writer.submit(records.call(task_id="t", key_id="k"))
        assert writer.flush_sync(10)
        proxy.down()
        for _ in range(20):
            writer.submit(records.call(task_id="t", key_id="k"))
        assert wait_until(lambda: not writer.available, 10)
        assert writer.queue_depth == 20
        proxy.up()
        assert wait_until(lambda: writer.queue_depth == 0 and writer.available, 30)
    assert count(postgres_url) == 25
    # Rollups count each record once, even for a batch retried after the outage.
    assert query(postgres_url, "SELECT calls FROM tasks") == [(25,)]
    assert query(postgres_url, "SELECT SUM(requests) FROM key_spend")[0][0] == 25


def test_when_the_queue_is_full_records_are_dropped_counted_and_logged(
    tmp_path: Path, writers: list[LedgerWriter], caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "blocked"
    blocker.write_text("")
    url = f"sqlite:///{blocker / 'ledger.db'}"
    writer = start_writer(writers, url, flush_interval_s=0.05, max_queue=10)
    caplog.set_level(logging.ERROR, "switchpoint.ledger")
    accepted = [writer.submit(records.call()) for _ in range(25)]
    assert accepted.count(True) == 10
    assert writer.dropped_total == 15
    assert writer.dropped_full_total == 15
    assert any("queue is full" in r.getMessage() for r in caplog.records)
    blocker.unlink()
    assert wait_until(lambda: writer.written_total == 10, 20)
    assert count(url) == 10


def test_a_record_the_database_refuses_is_dropped_alone(
    ledger_url: str, writers: list[LedgerWriter], caplog: pytest.LogCaptureFixture
) -> None:
    writer = start_writer(writers, ledger_url, flush_interval_s=60)
    poison = records.call(attempts=[records.attempt("terminal_agent", "gpt-5.5", usage=(2**70, 1))])
    good = [records.call() for _ in range(4)]
    for call in (*good[:2], poison, *good[2:]):
        writer.submit(call)
    assert writer.flush_sync(10)
    ids = {row[0] for row in query(ledger_url, "SELECT request_id FROM requests")}
    assert ids == {call.request_id for call in good}
    assert writer.dropped_failed_total == 1
    assert any(poison.request_id in r.getMessage() for r in caplog.records)


def test_close_with_the_database_down_counts_what_it_could_not_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "blocked"
    blocker.write_text("")
    writer = LedgerWriter(database(f"sqlite:///{blocker / 'x.db'}"), flush_interval_s=0.05)
    writer.start()
    for _ in range(3):
        writer.submit(records.call())
    caplog.set_level(logging.ERROR, "switchpoint.ledger")
    started = time.monotonic()
    writer.close(timeout_s=0.5)
    assert time.monotonic() - started < 10
    assert writer.dropped_total == 3
    assert any("3 record(s) unwritten" in r.getMessage() for r in caplog.records)


def test_sqlite_writes_are_durable_across_connections(sqlite_url: str) -> None:
    # A second, unrelated reader sees committed batches (WAL readers do not block).
    writer = LedgerWriter(database(sqlite_url), flush_interval_s=60)
    writer.start()
    writer.submit(records.call())
    assert writer.flush_sync(10)
    raw = sqlite3.connect(str(parse_ledger_url(sqlite_url).target))
    try:
        assert raw.execute("SELECT COUNT(*) FROM requests").fetchone() == (1,)
    finally:
        raw.close()
        writer.close()
