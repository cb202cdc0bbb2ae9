"""Virtual keys as the ledger stores them (hash only), and what each key has spent."""

from __future__ import annotations

from dataclasses import dataclass

from switchpoint.ledger.database import Connection

_COLUMNS = "key_id, key_hash, name, team, budget_usd, period, created_at, revoked_at"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    key_hash: str
    name: str | None
    team: str | None
    budget_usd: float | None
    period: str
    created_at: float
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _record(row: tuple[object, ...]) -> KeyRecord:
    key_id, key_hash, name, team, budget, period, created, revoked = row
    return KeyRecord(
        key_id=str(key_id),
        key_hash=str(key_hash),
        name=None if name is None else str(name),
        team=None if team is None else str(team),
        budget_usd=None if budget is None else float(budget),  # type: ignore[arg-type]
        period=str(period),
        created_at=float(created),  # type: ignore[arg-type]
        revoked_at=None if revoked is None else float(revoked),  # type: ignore[arg-type]
    )


def insert_key(connection: Connection, record: KeyRecord) -> None:
    with connection.transaction():
        connection.execute(
            f"INSERT INTO virtual_keys ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.key_id,
                record.key_hash,
                record.name,
                record.team,
                record.budget_usd,
                record.period,
                record.created_at,
                record.revoked_at,
            ),
        )


def load_keys(connection: Connection) -> list[KeyRecord]:
    rows = connection.execute(f"SELECT {_COLUMNS} FROM virtual_keys ORDER BY created_at, key_id")
    return [_record(row) for row in rows]


def get_key(connection: Connection, key_id: str) -> KeyRecord | None:
    rows = connection.execute(f"SELECT {_COLUMNS} FROM virtual_keys WHERE key_id = ?", (key_id,))
    return _record(rows[0]) if rows else None


def revoke_key(connection: Connection, key_id: str, at: float) -> KeyRecord | None:
    """Revoke a key (idempotent); None if there is no such key."""
    with connection.transaction():
        connection.execute(
            "UPDATE virtual_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
            (at, key_id),
        )
        return get_key(connection, key_id)


def key_spend_since(connection: Connection, first_day: int) -> dict[str, float]:
    """USD spent per key from UTC day `first_day` (days since the epoch) on."""
    rows = connection.execute(
        "SELECT key_id, SUM(cost_usd) FROM key_spend WHERE day >= ? GROUP BY key_id",
        (first_day,),
    )
    return {str(key_id): float(total or 0.0) for key_id, total in rows}
