"""Task budgets: tokens and/or USD across all the calls of one task.

A task's budget comes from its own headers (the latest declaration wins, per dimension:
tokens and USD are declared apart), else from a
budget an earlier call declared (read back from the ledger), else from the workload's
default in `routing.cost.task_budgets`. Accounts are kept for recently active tasks
(least recently used ones are forgotten past `max_tasks`); a task this process has not
seen is read from the ledger at the next sync, which is requested at once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from switchpoint.budgets.account import Account
from switchpoint.config.schema import TaskBudgetConfig
from switchpoint.ledger.database import Connection
from switchpoint.ledger.rows import CallRows
from switchpoint.ledger.tasks import task_spend

BudgetSource = Literal["header", "stored", "default", "none"]

# A task idle for longer than this is not re-read every sync (only when it returns).
_ACTIVE_S = 600.0


class TaskAccount:
    __slots__ = ("last_seen", "source", "synced", "task_id", "tokens", "usd")

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        self.tokens = Account()
        self.usd = Account()
        self.source: BudgetSource = "none"
        self.synced = False
        self.last_seen = time.monotonic()

    @property
    def limited(self) -> bool:
        return self.tokens.limit is not None or self.usd.limit is not None

    def set_limits(self, tokens: float | None, usd: float | None, source: BudgetSource) -> None:
        self.tokens.limit = None if tokens is None else float(tokens)
        self.usd.limit = usd
        self.source = source

    def declare(self, tokens: float | None, usd: float | None, source: BudgetSource) -> None:
        """A declared budget, per dimension: declaring a token budget keeps the USD one in
        force (the workload's default, or an earlier declaration), and the other way
        round."""
        self.set_limits(
            self.tokens.limit if tokens is None else tokens,
            self.usd.limit if usd is None else usd,
            source,
        )


class TaskBudgets:
    def __init__(
        self,
        defaults: Mapping[str, TaskBudgetConfig],
        *,
        max_tasks: int = 50_000,
    ) -> None:
        self.defaults = dict(defaults)
        self.max_tasks = max_tasks
        self._accounts: OrderedDict[str, TaskAccount] = OrderedDict()
        # Set by the gateway: asks the ledger for a sync soon (a task nobody has seen).
        self.request_sync: Callable[[], None] | None = None

    def account(
        self,
        task_id: str,
        *,
        tokens: int | None,
        usd: float | None,
        workload: str,
    ) -> TaskAccount:
        accounts = self._accounts
        account = accounts.get(task_id)
        if account is None:
            account = TaskAccount(task_id)
            accounts[task_id] = account
            default = self.defaults.get(workload)
            if default is not None:
                account.set_limits(default.tokens, default.usd, "default")
            self._evict()
            if self.request_sync is not None:
                self.request_sync()
        else:
            accounts.move_to_end(task_id)
            account.last_seen = time.monotonic()
        if tokens is not None or usd is not None:
            account.declare(tokens, usd, "header")
        return account

    def get(self, task_id: str | None) -> TaskAccount | None:
        return None if task_id is None else self._accounts.get(task_id)

    def __len__(self) -> int:
        return len(self._accounts)

    def _evict(self) -> None:
        accounts = self._accounts
        while len(accounts) > self.max_tasks:
            task_id, oldest = next(iter(accounts.items()))
            if oldest.tokens.reserved or oldest.usd.reserved:
                accounts.move_to_end(task_id)  # calls in flight: keep it
                return
            accounts.popitem(last=False)

    # --- writer thread ----------------------------------------------------------------
    def committed(self, batch: Sequence[CallRows]) -> None:
        accounts = self._accounts
        for rows in batch:
            if rows.task_id is None:
                continue
            account = accounts.get(rows.task_id)
            if account is not None:
                account.tokens.spend.committed += rows.tokens
                account.usd.spend.committed += rows.known_cost_usd

    def sync(self, connection: Connection) -> None:
        now = time.monotonic()
        wanted = [
            account
            for account in list(self._accounts.values())
            if not account.synced or (account.limited and now - account.last_seen < _ACTIVE_S)
        ]
        if not wanted:
            return
        stored = task_spend(connection, [account.task_id for account in wanted])
        for account in wanted:
            found = stored.get(account.task_id)
            if found is None:
                account.tokens.spend.synced(0, 0.0)
                account.usd.spend.synced(0, 0.0)
            else:
                account.tokens.spend.synced(0, float(found.tokens))
                account.usd.spend.synced(0, found.cost_usd)
                if account.source in ("none", "default") and (
                    found.budget_tokens is not None or found.budget_usd is not None
                ):
                    account.declare(found.budget_tokens, found.budget_usd, "stored")
            account.synced = True
