"""Virtual-key budgets: USD per key and period, held in memory, synced from the ledger."""

from __future__ import annotations

import time
from collections.abc import Sequence

from switchpoint.budgets.account import Account
from switchpoint.keys.periods import period_bounds
from switchpoint.ledger.database import Connection
from switchpoint.ledger.key_records import KeyRecord, key_spend_since
from switchpoint.ledger.rows import CallRows


class KeyAccount:
    __slots__ = ("period_end", "record", "usd")

    def __init__(self, record: KeyRecord, now: float) -> None:
        self.record = record
        first_day, self.period_end = period_bounds(record.period, now)
        self.usd = Account(record.budget_usd, first_day)

    def current(self, now: float) -> KeyAccount:
        """Move to a new period when the current one has ended."""
        if now >= self.period_end:
            first_day, self.period_end = period_bounds(self.record.period, now)
            self.usd.spend.roll(first_day)
        return self

    def update(self, record: KeyRecord) -> None:
        self.record = record
        self.usd.limit = record.budget_usd


class KeyBudgets:
    def __init__(self) -> None:
        self._accounts: dict[str, KeyAccount] = {}

    def account(self, record: KeyRecord, now: float) -> KeyAccount:
        account = self._accounts.get(record.key_id)
        if account is None:
            account = self._accounts.setdefault(record.key_id, KeyAccount(record, now))
        return account.current(now)

    def get(self, key_id: str | None) -> KeyAccount | None:
        return None if key_id is None else self._accounts.get(key_id)

    def track(self, records: Sequence[KeyRecord]) -> None:
        now = time.time()
        for record in records:
            account = self._accounts.get(record.key_id)
            if account is None:
                self._accounts.setdefault(record.key_id, KeyAccount(record, now))
            else:
                account.update(record)

    # --- writer thread ----------------------------------------------------------------
    def committed(self, batch: Sequence[CallRows]) -> None:
        accounts = self._accounts
        for rows in batch:
            if rows.key_id is not None and rows.known_cost_usd:
                account = accounts.get(rows.key_id)
                if account is not None:
                    account.usd.spend.committed += rows.known_cost_usd

    def sync(self, connection: Connection) -> None:
        now = time.time()
        by_period: dict[str, list[KeyAccount]] = {}
        for account in list(self._accounts.values()):
            by_period.setdefault(account.record.period, []).append(account)
        for period, accounts in by_period.items():
            first_day, _ = period_bounds(period, now)
            totals = key_spend_since(connection, first_day)
            for account in accounts:
                account.usd.spend.synced(first_day, totals.get(account.record.key_id, 0.0))
