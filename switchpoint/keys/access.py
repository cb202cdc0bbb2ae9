"""Who may call what.

- A master key is set (`SWITCHPOINT_MASTER_KEY`, or the variable `server.master_key_env`
  names): every request needs a credential. Chat calls take a virtual key (attributed
  to its team and held to its budget) or the master key; admin endpoints (keys,
  reports) take only the master key.
- No master key: the gateway runs open (and says so at start-up). Admin endpoints need
  no credential; chat calls without a virtual key are served unattributed, since an
  SDK always sends some key. A virtual key is still checked: a revoked or unknown
  `sk-sp-` key is refused rather than silently served without its budget.

Keys are compared by hash in constant time, and never logged or echoed: errors name a
key only by its public id.
"""

from __future__ import annotations

from dataclasses import dataclass

from switchpoint.errors import GatewayError
from switchpoint.keys.keyring import KeyRing
from switchpoint.keys.master_key import MasterKey
from switchpoint.ledger.key_records import KeyRecord


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str | None = None
    team: str | None = None
    record: KeyRecord | None = None
    admin: bool = False


ANONYMOUS = Principal()
MASTER = Principal(admin=True)


class KeyRejected(GatewayError):
    """A switchpoint key that is unknown (perhaps just created elsewhere) or revoked."""

    def __init__(self, message: str, *, key_id: str | None, revoked: bool) -> None:
        super().__init__("authentication", message, code="invalid_api_key")
        self.key_id = key_id
        self.revoked = revoked


def _missing_key() -> GatewayError:
    return GatewayError(
        "authentication",
        "this gateway requires an API key: send a switchpoint virtual key as "
        "'Authorization: Bearer <key>' or 'x-api-key: <key>'",
        code="missing_api_key",
    )


class AccessControl:
    def __init__(
        self,
        keyring: KeyRing,
        *,
        master_key: str | MasterKey | None,
        master_key_env: str,
        keys_supported: bool,
    ) -> None:
        self.keyring = keyring
        self.master = master_key if isinstance(master_key, MasterKey) else MasterKey(master_key)
        self.master_key_env = master_key_env
        # Virtual keys live in the ledger database: without a ledger there are none.
        self.keys_supported = keys_supported

    @property
    def open(self) -> bool:
        return not self.master.set

    def is_master(self, presented: str | None) -> bool:
        return presented is not None and self.master.matches(presented)

    def client(self, presented: str | None) -> Principal:
        """The caller of a chat, task or outcome endpoint; raises GatewayError."""
        if presented is None:
            if self.open:
                return ANONYMOUS
            raise _missing_key()
        if self.is_master(presented):
            return MASTER
        match = self.keyring.match(presented)
        if match.verdict == "valid":
            assert match.record is not None
            return Principal(match.record.key_id, match.record.team, match.record)
        if match.verdict == "not_a_key":
            if self.open:
                return ANONYMOUS
            raise GatewayError(
                "authentication", "invalid API key for this gateway", code="invalid_api_key"
            )
        if not self.keys_supported:
            raise GatewayError(
                "authentication",
                "virtual keys are not available: this gateway runs without a ledger",
                code="invalid_api_key",
            )
        if not self.keyring.loaded:
            raise GatewayError(
                "unavailable",
                "virtual keys cannot be checked yet: the ledger database is unavailable",
            )
        if match.verdict == "revoked":
            raise KeyRejected(
                f"virtual key {match.key_id} has been revoked", key_id=match.key_id, revoked=True
            )
        shown = f"virtual key {match.key_id}" if match.key_id else "this virtual key"
        raise KeyRejected(f"{shown} is not valid", key_id=match.key_id, revoked=False)

    def admin(self, presented: str | None) -> None:
        """Raise unless the caller may use admin endpoints."""
        if self.open or self.is_master(presented):
            return
        if presented is None:
            raise GatewayError(
                "authentication",
                "admin endpoints require the master key as 'Authorization: Bearer <key>'",
                code="missing_api_key",
            )
        if self.keyring.match(presented).verdict == "valid":
            raise GatewayError(
                "permission", "admin endpoints require the master key, not a virtual key"
            )
        raise GatewayError("authentication", "invalid master key", code="invalid_api_key")
