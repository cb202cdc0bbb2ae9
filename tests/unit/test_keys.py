"""Virtual keys: their format, hash-only matching, and who may call what."""

from __future__ import annotations

import time

import pytest

from switchpoint.errors import GatewayError
from switchpoint.keys.access import ANONYMOUS, MASTER, AccessControl, KeyRejected
from switchpoint.keys.key_format import hash_key, key_id_of, new_key
from switchpoint.keys.keyring import KeyRing
from switchpoint.ledger.key_records import KeyRecord
from switchpoint.ledger.since import BadSince, parse_since


def record_for(key: str, key_id: str, *, revoked: bool = False) -> KeyRecord:
    return KeyRecord(
        key_id, hash_key(key), None, "team-a", 5.0, "month", time.time(),
        time.time() if revoked else None,
    )  # fmt: skip


def test_new_keys_are_unique_and_carry_their_public_id() -> None:
    keys = {new_key() for _ in range(200)}
    assert len(keys) == 200
    key_id, key = next(iter(keys))
    assert key.startswith("sk-sp-")
    assert key_id_of(key) == key_id
    assert len(key) > 50
    assert key_id_of("sk-sp-nothex123456-secret") is None
    assert key_id_of("sk-other") is None


def test_the_keyring_matches_by_hash_and_knows_revoked_keys() -> None:
    key_id, key = new_key()
    revoked_id, revoked_key = new_key()
    ring = KeyRing()
    ring.replace([record_for(key, key_id), record_for(revoked_key, revoked_id, revoked=True)])
    assert ring.match(key).verdict == "valid"
    assert ring.match(key[:-1] + ("A" if key[-1] != "A" else "B")).verdict == "unknown"
    assert ring.match(revoked_key).verdict == "revoked"
    assert ring.match(f"sk-sp-{'0' * 12}-whatever").verdict == "unknown"
    assert ring.match("sk-proj-openai-style").verdict == "not_a_key"
    # Nothing but the hash is held.
    assert all(key not in repr(r) for r in ring.records())


def access(master: str | None) -> tuple[AccessControl, str]:
    key_id, key = new_key()
    ring = KeyRing()
    ring.replace([record_for(key, key_id)])
    return AccessControl(ring, master_key=master, master_key_env="M", keys_supported=True), key


def test_open_gateway_serves_keyless_calls_but_still_checks_virtual_keys() -> None:
    control, key = access(None)
    assert control.open
    assert control.client(None) is ANONYMOUS
    assert control.client("sk-anything-an-sdk-needs") is ANONYMOUS
    assert control.client(key).team == "team-a"
    with pytest.raises(KeyRejected) as raised:
        control.client(f"sk-sp-{'a' * 12}-forged")
    assert raised.value.status == 401
    control.admin(None)  # admin endpoints are open too


def test_with_a_master_key_every_call_needs_a_credential() -> None:
    control, key = access("master-secret")
    with pytest.raises(GatewayError) as raised:
        control.client(None)
    assert raised.value.status == 401
    with pytest.raises(GatewayError):
        control.client("sk-not-ours")
    assert control.client("master-secret") is MASTER
    assert control.client(key).key_id is not None
    control.admin("master-secret")
    with pytest.raises(GatewayError) as raised:
        control.admin(key)
    assert raised.value.status == 403
    with pytest.raises(GatewayError) as raised:
        control.admin("master-secreT")
    assert raised.value.status == 401
    assert "master-secret" not in raised.value.message


def test_keys_cannot_be_checked_before_they_are_loaded() -> None:
    control = AccessControl(KeyRing(), master_key=None, master_key_env="M", keys_supported=True)
    with pytest.raises(GatewayError) as raised:
        control.client(new_key()[1])
    assert raised.value.status == 503


def test_since_accepts_spans_dates_and_all() -> None:
    now = 10_000_000.0
    assert parse_since("7d", now) == now - 7 * 86_400
    assert parse_since("24h", now) == now - 86_400
    assert parse_since("30m", now) == now - 1800
    assert parse_since("2w", now) == now - 14 * 86_400
    assert parse_since("all", now) == 0.0
    assert parse_since("1970-01-02", now) == 86_400.0
    for bad in ("", "7", "d7", "-3d", "yesterday"):
        with pytest.raises(BadSince):
            parse_since(bad, now)
