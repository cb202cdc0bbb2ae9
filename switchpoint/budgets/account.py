"""An amount that can be spent against a limit, as one process sees it.

Three parties touch it, each only in its own way, so no lock is needed:

- the event loop reserves estimates, releases them and adds what calls actually cost
  (`reserved`, `spend.settled`);
- the ledger's writer thread counts what of that is now in the database
  (`spend.committed`), and every sync stores the database's total (all processes) with
  the committed count at that moment, as one tuple assigned at once;
- reading the spend combines them: the database total, plus what this process settled
  that the database does not have yet.
"""

from __future__ import annotations


class Spend:
    __slots__ = ("_base", "_period", "_settled_at_period", "committed", "settled")

    def __init__(self, period: int = 0) -> None:
        self.settled = 0.0
        self.committed = 0.0
        # (period, database total, `committed` when that total was read)
        self._base: tuple[int, float, float] = (period, 0.0, 0.0)
        self._period = period
        self._settled_at_period = 0.0

    def value(self) -> float:
        period, database, committed = self._base
        if period == self._period:
            return database + self.settled - committed
        # A new period began and no sync has read it yet: count what was settled since.
        return self.settled - self._settled_at_period

    def roll(self, period: int) -> None:
        if period != self._period:
            self._settled_at_period = self.settled
            self._period = period

    def synced(self, period: int, database_total: float) -> None:
        """The database's total for `period`; called on the writer thread."""
        self._base = (period, database_total, self.committed)


class Account:
    __slots__ = ("limit", "reserved", "spend")

    def __init__(self, limit: float | None = None, period: int = 0) -> None:
        self.limit = limit
        self.reserved = 0.0
        self.spend = Spend(period)

    @property
    def spent(self) -> float:
        return self.spend.value()

    def headroom(self) -> float:
        """What is left for new calls (negative when overspent); inf without a limit."""
        if self.limit is None:
            return float("inf")
        return self.limit - self.spend.value() - self.reserved

    def left(self) -> float:
        """What is left of the limit, reservations aside (for messages)."""
        if self.limit is None:
            return float("inf")
        return max(0.0, self.limit - self.spend.value())
