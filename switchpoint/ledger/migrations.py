"""The ledger's schema, as numbered migrations shared by SQLite and PostgreSQL.

Only types and statements both understand are used (`DOUBLE PRECISION`, `BIGINT`,
`BOOLEAN`, `CREATE ... IF NOT EXISTS`), so one list serves both backends. A migration
is applied once, inside a transaction holding the database's write lock (SQLite's
`BEGIN IMMEDIATE`, a PostgreSQL advisory lock), so several workers starting together
cannot race. Never edit an applied migration: append a new one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "requests, attempts, outcomes, task and key rollups, virtual keys",
        (
            # One row per client request that reached execution. `ts` is the unix time
            # it arrived; costs are NULL (with cost_known false) when a price or a usage
            # report is missing; usage_estimated marks tokens switchpoint estimated for
            # a stream cut before the provider reported them.
            """CREATE TABLE IF NOT EXISTS requests (
                request_id TEXT PRIMARY KEY,
                ts DOUBLE PRECISION NOT NULL,
                key_id TEXT,
                team TEXT,
                workload TEXT,
                task_id TEXT,
                profile TEXT,
                provider TEXT,
                model TEXT,
                protocol TEXT NOT NULL,
                stream BOOLEAN NOT NULL,
                status TEXT NOT NULL,
                http_status INTEGER NOT NULL,
                error_kind TEXT,
                attempts INTEGER NOT NULL,
                retries INTEGER NOT NULL,
                fallback BOOLEAN NOT NULL,
                fallback_reasons TEXT,
                rules TEXT,
                input_tokens BIGINT NOT NULL,
                cached_input_tokens BIGINT NOT NULL,
                cache_write_tokens BIGINT NOT NULL,
                output_tokens BIGINT NOT NULL,
                usage_estimated BOOLEAN NOT NULL,
                cost_usd DOUBLE PRECISION,
                cost_known BOOLEAN NOT NULL,
                latency_ms DOUBLE PRECISION NOT NULL,
                ttft_ms DOUBLE PRECISION,
                context_tokens BIGINT NOT NULL,
                task_budget_tokens BIGINT,
                task_budget_usd DOUBLE PRECISION
            )""",
            "CREATE INDEX IF NOT EXISTS requests_by_time ON requests (ts)",
            "CREATE INDEX IF NOT EXISTS requests_by_task ON requests (task_id, ts)",
            "CREATE INDEX IF NOT EXISTS requests_by_key ON requests (key_id, ts)",
            # Every upstream attempt of a request, in order (retries and fallbacks that
            # consumed tokens carry their cost here).
            """CREATE TABLE IF NOT EXISTS attempts (
                request_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                profile TEXT NOT NULL,
                provider TEXT NOT NULL,
                model TEXT NOT NULL,
                reason TEXT NOT NULL,
                outcome TEXT NOT NULL,
                http_status INTEGER,
                error TEXT,
                duration_ms DOUBLE PRECISION NOT NULL,
                ttft_ms DOUBLE PRECISION,
                input_tokens BIGINT,
                cached_input_tokens BIGINT,
                cache_write_tokens BIGINT,
                output_tokens BIGINT,
                usage_estimated BOOLEAN NOT NULL,
                cost_usd DOUBLE PRECISION,
                cost_known BOOLEAN NOT NULL,
                PRIMARY KEY (request_id, seq)
            )""",
            # The result of a task, one per task and kind (posting again replaces it).
            """CREATE TABLE IF NOT EXISTS outcomes (
                task_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                outcome TEXT NOT NULL,
                value DOUBLE PRECISION,
                recorded_at DOUBLE PRECISION NOT NULL,
                key_id TEXT,
                team TEXT,
                PRIMARY KEY (task_id, kind)
            )""",
            # Per-task rollup, maintained in the same transaction as the requests it sums:
            # what budgets are checked against, and what `GET /v1/tasks/{id}` reads.
            # `cost_usd` sums the priced calls; `unpriced_calls` counts the others.
            """CREATE TABLE IF NOT EXISTS tasks (
                task_id TEXT PRIMARY KEY,
                first_ts DOUBLE PRECISION NOT NULL,
                last_ts DOUBLE PRECISION NOT NULL,
                calls BIGINT NOT NULL,
                attempts BIGINT NOT NULL,
                input_tokens BIGINT NOT NULL,
                cached_input_tokens BIGINT NOT NULL,
                cache_write_tokens BIGINT NOT NULL,
                output_tokens BIGINT NOT NULL,
                cost_usd DOUBLE PRECISION NOT NULL,
                unpriced_calls BIGINT NOT NULL,
                budget_tokens BIGINT,
                budget_usd DOUBLE PRECISION,
                key_id TEXT,
                team TEXT,
                workload TEXT
            )""",
            # Per-key spend by UTC day (days since the epoch): a key's spend in its
            # budget period is the sum of a few rows.
            """CREATE TABLE IF NOT EXISTS key_spend (
                key_id TEXT NOT NULL,
                day INTEGER NOT NULL,
                cost_usd DOUBLE PRECISION NOT NULL,
                requests BIGINT NOT NULL,
                PRIMARY KEY (key_id, day)
            )""",
            # Virtual keys: only a hash of the key is stored.
            """CREATE TABLE IF NOT EXISTS virtual_keys (
                key_id TEXT PRIMARY KEY,
                key_hash TEXT NOT NULL,
                name TEXT,
                team TEXT,
                budget_usd DOUBLE PRECISION,
                period TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                revoked_at DOUBLE PRECISION
            )""",
        ),
    ),
    Migration(
        2,
        "attempts: the output cap and the sampling settings left out",
        (
            # What the gateway changed in the request an attempt sent: the model's output
            # limit when the client's maximum was capped to it, and the sampling settings
            # the model refuses (comma-separated). NULL when nothing was changed, and for
            # rows written before this migration. Nullable, so a worker still on version
            # 1 (a rolling upgrade) keeps writing its rows without them.
            "ALTER TABLE attempts ADD COLUMN output_capped BIGINT",
            "ALTER TABLE attempts ADD COLUMN dropped_params TEXT",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version
