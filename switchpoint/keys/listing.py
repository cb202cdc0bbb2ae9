"""Keys as admins list them, each with what it spent in its current budget period."""

from __future__ import annotations

from switchpoint.keys.issue import key_info
from switchpoint.keys.periods import period_bounds
from switchpoint.ledger.database import Connection
from switchpoint.ledger.key_records import KeyRecord, key_spend_since, load_keys


def spend_in_period(
    connection: Connection, records: list[KeyRecord], now: float
) -> dict[str, float]:
    spent: dict[str, float] = {}
    first_days = {period_bounds(record.period, now)[0] for record in records}
    totals = {day: key_spend_since(connection, day) for day in first_days}
    for record in records:
        day = period_bounds(record.period, now)[0]
        spent[record.key_id] = totals[day].get(record.key_id, 0.0)
    return spent


def list_keys(connection: Connection, now: float) -> list[dict[str, object]]:
    records = load_keys(connection)
    spent = spend_in_period(connection, records, now)
    return [key_info(record, spent[record.key_id]) for record in records]
