"""Issuing a virtual key: checked settings in, the key shown once out."""

from __future__ import annotations

import math
from dataclasses import dataclass

from switchpoint.keys.key_format import hash_key, new_key
from switchpoint.keys.periods import parse_period
from switchpoint.ledger.database import Connection
from switchpoint.ledger.key_records import KeyRecord, insert_key

_MAX_LABEL = 100


@dataclass(frozen=True, slots=True)
class KeyRequest:
    team: str
    name: str | None = None
    budget_usd: float | None = None
    period: str = "month"


def check_key_request(team: object, name: object, budget_usd: object, period: object) -> KeyRequest:
    """Validate what a client or the CLI asked for; raises ValueError naming the field."""
    if not isinstance(team, str) or not _label(team):
        raise ValueError(f"team must be 1 to {_MAX_LABEL} printable characters")
    if name is not None and (not isinstance(name, str) or not _label(name)):
        raise ValueError(f"name must be 1 to {_MAX_LABEL} printable characters")
    budget: float | None = None
    if budget_usd is not None:
        if isinstance(budget_usd, bool) or not isinstance(budget_usd, int | float):
            raise ValueError("budget_usd must be a number (USD)")
        budget = float(budget_usd)
        if not math.isfinite(budget) or budget <= 0:
            raise ValueError("budget_usd must be a positive amount")
    if not isinstance(period, str):
        raise ValueError("period must be day, week, month or total")
    return KeyRequest(team.strip(), name.strip() if name else None, budget, parse_period(period))


def _label(text: str) -> bool:
    value = text.strip()
    return 0 < len(value) <= _MAX_LABEL and value.isprintable()


def issue_key(connection: Connection, request: KeyRequest, now: float) -> tuple[KeyRecord, str]:
    """Store a new key's hash; returns the record and the key itself (shown once)."""
    key_id, key = new_key()
    record = KeyRecord(
        key_id=key_id,
        key_hash=hash_key(key),
        name=request.name,
        team=request.team,
        budget_usd=request.budget_usd,
        period=request.period,
        created_at=now,
    )
    insert_key(connection, record)
    return record, key


def key_info(record: KeyRecord, spent_usd: float | None = None) -> dict[str, object]:
    """A key as admin endpoints and the CLI show it: never its secret or hash."""
    return {
        "id": record.key_id,
        "name": record.name,
        "team": record.team,
        "budget_usd": record.budget_usd,
        "period": record.period,
        "spent_usd": spent_usd,
        "created_at": record.created_at,
        "revoked_at": record.revoked_at,
        "active": record.active,
    }
