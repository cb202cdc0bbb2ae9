"""The master key that guards admin endpoints (dashboard, metrics, ledger queries).

The key comes from the environment variable named by `server.master_key_env`. When it
is set, an admin request must carry it as `Authorization: Bearer <key>` or `x-api-key`,
or carry the dashboard's session cookie (an HMAC of the key, never the key itself).
Every check hashes what it got and compares digests with `hmac.compare_digest`, and a
missing credential goes through the same steps as a wrong one, so neither the time taken
nor the message tells a caller anything about the key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from switchpoint.config.schema import Config
from switchpoint.errors import GatewayError
from switchpoint.ingress.call_options import client_key
from switchpoint.server.request import Request

SESSION_COOKIE = "switchpoint_admin"
_SESSION_CONTEXT = b"switchpoint admin session v1"
# Shown for a missing and for a wrong key alike.
REJECTION = "this endpoint needs the gateway's master key (Authorization: Bearer <key>)"


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def cookie_value(header: str | None, name: str) -> str | None:
    if not header:
        return None
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key.strip() == name:
            return value.strip()
    return None


class AdminAuth:
    def __init__(self, master_key: str | None) -> None:
        self.enabled = bool(master_key)
        key = master_key or ""
        self._key_digest = _digest(key)
        # Not the key: a value only the key's holder can compute, safe in a cookie.
        self._session = hmac.new(key.encode(), _SESSION_CONTEXT, hashlib.sha256).hexdigest()
        self._session_digest = _digest(self._session)

    @classmethod
    def from_config(cls, config: Config, environ: Mapping[str, str]) -> AdminAuth:
        return cls(environ.get(config.server.master_key_env) or None)

    @property
    def session_token(self) -> str:
        return self._session

    def key_matches(self, candidate: str | None) -> bool:
        return hmac.compare_digest(_digest(candidate or ""), self._key_digest) and self.enabled

    def allows(self, request: Request) -> bool:
        """Whether `request` may use an admin endpoint."""
        if not self.enabled:
            return True
        # Both checks always run, so a request without a header costs what one with a
        # wrong header does.
        by_key = hmac.compare_digest(_digest(client_key(request) or ""), self._key_digest)
        cookie = cookie_value(request.header(b"cookie"), SESSION_COOKIE)
        by_cookie = hmac.compare_digest(_digest(cookie or ""), self._session_digest)
        return by_key | by_cookie

    def require(self, request: Request) -> None:
        if not self.allows(request):
            raise GatewayError("authentication", REJECTION)
