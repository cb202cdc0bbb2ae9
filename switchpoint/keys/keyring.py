"""The virtual keys this process knows, in memory: looking a key up costs a dict probe
and a SHA-256, never a database query. Reloaded from the ledger by the sync job."""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from switchpoint.keys.key_format import hash_key, key_id_of, looks_like_key
from switchpoint.ledger.key_records import KeyRecord

Verdict = Literal["valid", "revoked", "unknown", "not_a_key"]


@dataclass(frozen=True, slots=True)
class KeyMatch:
    verdict: Verdict
    key_id: str | None = None
    record: KeyRecord | None = None


_NOT_A_KEY = KeyMatch("not_a_key")


class KeyRing:
    def __init__(self) -> None:
        self._keys: dict[str, KeyRecord] = {}
        # False until keys were read from the ledger once: until then a switchpoint
        # key can be neither accepted nor refused.
        self.loaded = False
        self.loaded_at = 0.0

    def replace(self, records: Iterable[KeyRecord]) -> None:
        self._keys = {record.key_id: record for record in records}
        self.loaded = True
        self.loaded_at = time.monotonic()

    def add(self, record: KeyRecord) -> None:
        keys = dict(self._keys)
        keys[record.key_id] = record
        self._keys = keys

    def records(self) -> list[KeyRecord]:
        return list(self._keys.values())

    def get(self, key_id: str) -> KeyRecord | None:
        return self._keys.get(key_id)

    def __len__(self) -> int:
        return len(self._keys)

    def match(self, presented: str) -> KeyMatch:
        if not looks_like_key(presented):
            return _NOT_A_KEY
        key_id = key_id_of(presented)
        if key_id is None:
            return KeyMatch("unknown")
        record = self._keys.get(key_id)
        # Compare hashes in constant time: timing must not reveal how much matched.
        if record is None or not hmac.compare_digest(record.key_hash, hash_key(presented)):
            return KeyMatch("unknown", key_id)
        if not record.active:
            return KeyMatch("revoked", key_id, record)
        return KeyMatch("valid", key_id, record)
