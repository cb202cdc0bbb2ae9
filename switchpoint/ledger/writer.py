"""Writing call records: a bounded in-memory queue drained in batches by one thread.

The request path only appends to a deque (`submit`). A dedicated thread wakes every
`flush_interval_s` (or sooner when a batch fills up, someone waits for a flush, or the
gateway stops), converts what is queued into rows and writes them in one transaction:
request rows, attempt rows and the task/key rollups together, so a crash leaves either
a whole batch or none of it. At most one flush interval of records is ever uncommitted.

When the database is slow or down, records stay queued (the failed batch is retried
with backoff) up to `max_queue`; past that, new records are dropped and counted in
`dropped_total`, with a log line. A record the database rejects outright (a bad value)
is isolated from its batch, dropped and counted the same way. Nothing is lost silently.

The same thread runs the sync jobs (re-reading budgets and keys) on its connection,
so the rest of the gateway never touches the database on the request path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from switchpoint.execution.records import CallRecord
from switchpoint.ledger.database import (
    DATABASE_ERRORS,
    UNAVAILABLE_ERRORS,
    Connection,
    Database,
)
from switchpoint.ledger.rollups import UPSERT_KEY_SPEND, UPSERT_TASK, key_spend_rows, task_rows
from switchpoint.ledger.rows import INSERT_ATTEMPT, INSERT_REQUEST, CallRows, call_rows
from switchpoint.log_throttle import LogThrottle

log = logging.getLogger("switchpoint.ledger")

# Called on the writer thread after a batch commits, with the rows it held.
CommitHook = Callable[[Sequence[CallRows]], None]
# Run on the writer thread with its connection, every sync interval.
SyncJob = Callable[[Connection], None]

_BACKOFF_MIN_S = 0.1
_BACKOFF_MAX_S = 5.0
# How long `close` waits beyond its timeout for a call in progress to return (the
# PostgreSQL connection bounds every call; see postgres.py).
_JOIN_SLACK_S = 5.0
_DROP_LOG_EVERY_S = 10.0
# Syncs asked for between scheduled ones (a task or key nobody has seen) are coalesced
# to at most one per this interval.
_SYNC_MIN_GAP_S = 0.2
_ID_CHUNK = 500
# Converting records and binding their parameters is Python code holding the GIL; done
# in one go it would keep the event loop waiting up to the interpreter's switch interval
# (5 ms) at a time. Chunks this small, with a brief sleep between them, hand the GIL
# back promptly: the request path barely notices the writer.
_CHUNK = 32
_YIELD_S = 0.0001


def _yield_gil() -> None:
    time.sleep(_YIELD_S)


class _Waiter:
    """Someone waiting for the writer to reach a point: an asyncio future or an event."""

    __slots__ = ("_event", "_future", "_loop", "target")

    def __init__(self, target: int) -> None:
        self.target = target
        self._loop: asyncio.AbstractEventLoop | None = None
        self._future: asyncio.Future[None] | None = None
        self._event: threading.Event | None = None

    def future(self) -> asyncio.Future[None]:
        self._loop = asyncio.get_running_loop()
        self._future = self._loop.create_future()
        return self._future

    def event(self) -> threading.Event:
        self._event = threading.Event()
        return self._event

    def release(self) -> None:
        if self._event is not None:
            self._event.set()
        if self._loop is not None and self._future is not None:
            future = self._future
            # A closed loop (RuntimeError) means nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class LedgerWriter:
    def __init__(
        self,
        database: Database,
        *,
        flush_interval_s: float = 0.5,
        max_queue: int = 100_000,
        max_batch: int = 5_000,
        sync_interval_s: float = 5.0,
    ) -> None:
        self.database = database
        self.flush_interval_s = flush_interval_s
        self.max_queue = max_queue
        self.max_batch = max_batch
        self.sync_interval_s = sync_interval_s
        self.commit_hooks: list[CommitHook] = []
        self.sync_jobs: list[SyncJob] = []

        self._queue: deque[CallRecord] = deque()
        # The batch being written (or retried); counted against `max_queue` too.
        self._batch: list[CallRows] = []
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._flush_waiters: list[_Waiter] = []
        self._sync_waiters: list[_Waiter] = []
        self._urgent = False
        self._sync_requested = False
        self._last_sync = 0.0
        # Syncs started so far (waiters wait for one that starts after they asked).
        self._sync_generation = 0
        self._stopping = False
        self._stop_deadline = 0.0
        self._retry_at = 0.0
        self._backoff_s = 0.0
        self._ambiguous = False
        self._connection: Connection | None = None
        self._thread: threading.Thread | None = None
        self._drop_log = LogThrottle(_DROP_LOG_EVERY_S)

        # Records accepted by `submit`, and records written or given up on (same order).
        self.submitted_total = 0
        self.processed_total = 0
        # --- metrics (read by observability; plain attributes, no locking needed) ---
        self.written_total = 0
        # Each counter has one writer thread (the event loop, or the writer), so no
        # increment can be lost; `dropped_total` sums them.
        self.dropped_full_total = 0
        self.dropped_failed_total = 0
        self.batches_total = 0
        self.write_errors_total = 0
        self.syncs_total = 0
        self.available = True
        self.last_error: str | None = None
        self.last_flush_duration_s = 0.0
        self.last_flush_at: float | None = None  # unix time of the last commit

    # --- the request path -------------------------------------------------------------
    def submit(self, call: CallRecord) -> bool:
        """Queue a finished call; False (and counted as dropped) when the queue is full."""
        if len(self._queue) + len(self._batch) >= self.max_queue:
            self.dropped_full_total += 1
            self._log_drop(1, f"the ledger queue is full ({self.max_queue} records)")
            return False
        self._queue.append(call)
        self.submitted_total += 1
        if len(self._queue) == self.max_batch:
            self._wake.set()
        return True

    @property
    def dropped_total(self) -> int:
        """Records that will never be written (queue full, rejected, or unwritten at a
        shutdown while the database was down)."""
        return self.dropped_full_total + self.dropped_failed_total

    @property
    def queue_depth(self) -> int:
        """Records accepted but not yet written."""
        return len(self._queue) + len(self._batch)

    def stats(self) -> dict[str, float | int | bool | None]:
        return {
            "queue_depth": self.queue_depth,
            "max_queue": self.max_queue,
            "written_total": self.written_total,
            "dropped_total": self.dropped_total,
            "dropped_full_total": self.dropped_full_total,
            "dropped_failed_total": self.dropped_failed_total,
            "batches_total": self.batches_total,
            "write_errors_total": self.write_errors_total,
            "syncs_total": self.syncs_total,
            "available": self.available,
            "last_flush_duration_s": self.last_flush_duration_s,
            "last_flush_at": self.last_flush_at,
        }

    def _log_drop(self, count: int, why: str) -> None:
        unlogged = self._drop_log.due(count)
        if unlogged is not None:
            log.error(
                "ledger: %s: dropped %d call record(s) (%d in total since start)",
                why,
                unlogged,
                self.dropped_total,
            )

    # --- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="switchpoint-ledger", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self, timeout_s: float = 10.0) -> None:
        """Write everything queued, then stop. Records still unwritten when `timeout_s`
        runs out (the database is down) are counted as dropped and logged."""
        thread = self._thread
        if thread is None:
            return
        self._stop_deadline = time.monotonic() + timeout_s
        self._stopping = True
        self._wake.set()
        thread.join(timeout_s + _JOIN_SLACK_S)
        if thread.is_alive():
            # Stuck in a database call that never returned: what it holds dies with the
            # process, so account for it as a down database's records are.
            self.available = False
            self.last_error = (
                f"a database call did not return within {timeout_s + _JOIN_SLACK_S:g} s"
            )
            self._give_up()
            self._release_flush_waiters(everyone=True)
            self._release_sync_waiters(everyone=True)

    async def aclose(self, timeout_s: float = 10.0) -> None:
        await asyncio.to_thread(self.close, timeout_s)

    # --- waiting for the writer ---------------------------------------------------------
    async def flushed(self, timeout_s: float = 5.0) -> bool:
        """Wait until every record submitted so far is written; False on timeout."""
        if self.processed_total >= self.submitted_total or not self.running:
            return self.processed_total >= self.submitted_total
        waiter = _Waiter(self.submitted_total)
        future = waiter.future()
        with self._lock:
            self._flush_waiters.append(waiter)
        self._urgent = True
        self._wake.set()
        try:
            await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            return False
        return True

    def flush_sync(self, timeout_s: float = 5.0) -> bool:
        """`flushed` for code without an event loop (CLI, tests)."""
        if self.processed_total >= self.submitted_total or not self.running:
            return self.processed_total >= self.submitted_total
        waiter = _Waiter(self.submitted_total)
        event = waiter.event()
        with self._lock:
            self._flush_waiters.append(waiter)
        self._urgent = True
        self._wake.set()
        return event.wait(timeout_s)

    async def synced(self, timeout_s: float = 2.0) -> bool:
        """Run the sync jobs now (e.g. a key nobody has seen yet) and wait for them."""
        if not self.running:
            return False
        with self._lock:
            # Only a sync that starts after this point will do: one already running
            # may have read the keys before the one being asked about existed.
            waiter = _Waiter(self._sync_generation + 1)
            future = waiter.future()
            self._sync_waiters.append(waiter)
        self._sync_requested = True
        self._wake.set()
        try:
            await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            return False
        return True

    def request_sync(self) -> None:
        """Ask for a sync soon, without waiting for it."""
        self._sync_requested = True
        self._wake.set()

    # --- the writer thread --------------------------------------------------------------
    def _run(self) -> None:
        next_flush = time.monotonic() + self.flush_interval_s
        next_sync = time.monotonic()
        while True:
            # Clear before looking at the flags: a wake-up set after this point is kept.
            self._wake.clear()
            now = time.monotonic()
            if self._stopping and now >= self._stop_deadline:
                self._give_up()
                break
            if now < self._retry_at:
                until = self._retry_at
                if self._stopping:
                    until = min(until, self._stop_deadline)
                self._wake.wait(max(0.0, until - now))
                continue
            if not (self._urgent or self._stopping or len(self._queue) >= self.max_batch):
                due = min(next_flush, next_sync)
                if self._sync_requested:
                    due = min(due, self._last_sync + _SYNC_MIN_GAP_S)
                wait = due - now
                if wait > 0 and self._wake.wait(wait):
                    continue  # woken: look at the flags again
            try:
                next_flush, next_sync = self._step(next_flush, next_sync)
            except Exception:
                # A bug must not stop the ledger: log it, back off, carry on.
                log.exception("ledger writer failed; retrying")
                self._backoff_s = min(_BACKOFF_MAX_S, max(_BACKOFF_MIN_S, self._backoff_s * 2))
                self._retry_at = time.monotonic() + self._backoff_s
                continue
            if self._stopping and not (self._queue or self._batch):
                break
        self._close_connection()
        self._release_flush_waiters(everyone=True)
        self._release_sync_waiters(everyone=True)

    def _step(self, next_flush: float, next_sync: float) -> tuple[float, float]:
        now = time.monotonic()
        backlog = bool(self._queue or self._batch)
        if backlog and (
            now >= next_flush
            or self._urgent
            or self._stopping
            or len(self._queue) >= self.max_batch
        ):
            self._urgent = False
            if not self._flush():
                return next_flush, next_sync
            next_flush = time.monotonic() + self.flush_interval_s
        elif not backlog:
            self._urgent = False
            self._release_flush_waiters()
            if now >= next_flush:
                next_flush = now + self.flush_interval_s
        now = time.monotonic()
        if now >= next_sync or (self._sync_requested and now >= self._last_sync + _SYNC_MIN_GAP_S):
            self._sync_requested = False
            self._sync()
            self._last_sync = time.monotonic()
            next_sync = self._last_sync + self.sync_interval_s
        return next_flush, next_sync

    def _connect(self) -> Connection:
        if self._connection is None:
            self._connection = self.database.connect()
        return self._connection

    def _close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _unavailable(self, exc: BaseException) -> None:
        self.write_errors_total += 1
        self.last_error = f"{type(exc).__name__}: {exc}".strip()
        if self.available:
            log.error(
                "ledger database unavailable (%s): records are kept in memory (up to %d) "
                "and retried",
                self.last_error,
                self.max_queue,
            )
        self.available = False
        self._ambiguous = True
        self._close_connection()
        self._backoff_s = min(_BACKOFF_MAX_S, max(_BACKOFF_MIN_S, self._backoff_s * 2))
        self._retry_at = time.monotonic() + self._backoff_s

    def _recovered(self) -> None:
        if not self.available:
            log.info("ledger database available again; %d record(s) queued", self.queue_depth)
        self.available = True
        self._backoff_s = 0.0
        self._retry_at = 0.0

    def _take_batch(self) -> list[CallRows]:
        batch: list[CallRows] = []
        popleft = self._queue.popleft
        for index in range(min(len(self._queue), self.max_batch)):
            if index and index % _CHUNK == 0:
                _yield_gil()
            call = popleft()
            try:
                batch.append(call_rows(call))
            except Exception:
                log.exception("ledger: cannot convert call %s", call.request_id)
                self.processed_total += 1
                self.dropped_failed_total += 1
                self._log_drop(1, "a record could not be converted")
        return batch

    def _flush(self) -> bool:
        """Write what is queued, batch by batch; False if the database failed. Records
        arriving meanwhile wait for the next round, so sync jobs still get their turn."""
        rounds = len(self._queue) // self.max_batch + 2
        while rounds:
            rounds -= 1
            if not self._batch:
                if not self._queue:
                    return True
                self._batch = self._take_batch()
                if not self._batch:
                    continue
            batch = self._batch
            started = time.perf_counter()
            try:
                connection = self._connect()
            except DATABASE_ERRORS as exc:
                self._unavailable(exc)
                return False
            try:
                written = self._write(connection, batch)
            except UNAVAILABLE_ERRORS as exc:
                self._unavailable(exc)
                return False
            except Exception as exc:
                # The database (or its driver) refused something in the batch: find the
                # record(s) at fault rather than retrying the whole batch forever.
                self.write_errors_total += 1
                log.error("ledger: a batch of %d record(s) was rejected (%s)", len(batch), exc)
                try:
                    written = self._write_one_by_one(connection, batch)
                except UNAVAILABLE_ERRORS as inner:
                    self._unavailable(inner)
                    return False
            self._recovered()
            self._ambiguous = False
            self._batch = []
            self.batches_total += 1
            self.written_total += len(written)
            self.processed_total += len(batch)
            self.last_flush_duration_s = time.perf_counter() - started
            self.last_flush_at = time.time()
            for hook in self.commit_hooks:
                try:
                    hook(written)
                except Exception:
                    log.exception("ledger commit hook failed")
            self._release_flush_waiters()
        return True

    def _write(self, connection: Connection, batch: list[CallRows]) -> list[CallRows]:
        with connection.transaction():
            if self._ambiguous:
                # The previous attempt may have committed before failing: skip what is
                # already there so rows and rollups are never counted twice.
                batch = self._unwritten(connection, batch)
            step = connection.rows_per_statement
            for start in range(0, len(batch), step):
                if start:
                    _yield_gil()
                chunk = batch[start : start + step]
                connection.executemany(INSERT_REQUEST, [rows.request for rows in chunk])
                attempts = [row for rows in chunk for row in rows.attempts]
                if attempts:
                    connection.executemany(INSERT_ATTEMPT, attempts)
            tasks = task_rows(batch)
            if tasks:
                connection.executemany(UPSERT_TASK, tasks)
            spend = key_spend_rows(batch)
            if spend:
                connection.executemany(UPSERT_KEY_SPEND, spend)
        return batch

    def _unwritten(self, connection: Connection, batch: list[CallRows]) -> list[CallRows]:
        present: set[str] = set()
        ids = [rows.request_id for rows in batch]
        for start in range(0, len(ids), _ID_CHUNK):
            chunk = ids[start : start + _ID_CHUNK]
            marks = ", ".join("?" for _ in chunk)
            present.update(
                row[0]
                for row in connection.execute(
                    f"SELECT request_id FROM requests WHERE request_id IN ({marks})", chunk
                )
            )
        return [rows for rows in batch if rows.request_id not in present]

    def _write_one_by_one(self, connection: Connection, batch: list[CallRows]) -> list[CallRows]:
        written: list[CallRows] = []
        for rows in batch:
            try:
                written.extend(self._write(connection, [rows]))
            except UNAVAILABLE_ERRORS:
                raise
            except Exception as exc:
                log.error("ledger: record %s rejected by the database: %s", rows.request_id, exc)
                self.dropped_failed_total += 1
                self._log_drop(1, "a record was rejected by the database")
        return written

    def _give_up(self) -> None:
        lost = len(self._queue) + len(self._batch)
        if lost:
            log.error(
                "ledger: stopping with %d record(s) unwritten (database unavailable: %s)",
                lost,
                self.last_error,
            )
            self.dropped_failed_total += lost
            self.processed_total += lost
            self._queue.clear()
            self._batch = []

    def _release_flush_waiters(self, *, everyone: bool = False) -> None:
        with self._lock:
            if not self._flush_waiters:
                return
            done = [w for w in self._flush_waiters if everyone or w.target <= self.processed_total]
            self._flush_waiters = [w for w in self._flush_waiters if w not in done]
        for waiter in done:
            waiter.release()

    def _release_sync_waiters(self, *, everyone: bool = False) -> None:
        with self._lock:
            generation = self._sync_generation
            done = [w for w in self._sync_waiters if everyone or w.target <= generation]
            self._sync_waiters = [w for w in self._sync_waiters if w not in done]
        for waiter in done:
            waiter.release()

    def _sync(self) -> None:
        with self._lock:
            self._sync_generation += 1
        if self.sync_jobs:
            try:
                connection = self._connect()
            except DATABASE_ERRORS as exc:
                self._unavailable(exc)
                self._release_sync_waiters()
                return
            try:
                for job in self.sync_jobs:
                    job(connection)
                self.syncs_total += 1
                self._recovered()
            except UNAVAILABLE_ERRORS as exc:
                self._unavailable(exc)
            except Exception:
                log.exception("ledger sync failed")
        self._release_sync_waiters()
