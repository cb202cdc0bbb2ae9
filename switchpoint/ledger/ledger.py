"""One configured ledger: its database, batch writer, event-bus listener and store."""

from __future__ import annotations

from pathlib import Path

from switchpoint.config.schema import LedgerConfig
from switchpoint.ledger.database import Database
from switchpoint.ledger.listener import LedgerListener
from switchpoint.ledger.store import LedgerStore
from switchpoint.ledger.url import parse_ledger_url
from switchpoint.ledger.writer import LedgerWriter


class Ledger:
    def __init__(self, config: LedgerConfig, *, base_dir: Path | None = None) -> None:
        self.config = config
        self.location = parse_ledger_url(config.url, base_dir=base_dir)
        self.database = Database(self.location, statement_timeout_s=config.statement_timeout_s)
        self.writer = LedgerWriter(
            self.database,
            flush_interval_s=config.flush_interval_s,
            max_queue=config.max_queue,
            max_batch=config.max_batch,
            sync_interval_s=config.sync_interval_s,
        )
        self.store = LedgerStore(self.database)
        self.listener = LedgerListener(self.writer)

    def describe(self) -> str:
        return self.location.describe()

    def start(self) -> None:
        self.writer.start()

    @property
    def started(self) -> bool:
        return self.writer.running

    async def aclose(self) -> None:
        await self.writer.aclose(self.config.shutdown_timeout_s)
        self.store.close()
