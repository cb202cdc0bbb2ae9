"""The master key in front of the dashboard and `/metrics`.

When a master key is set (see `keys.master_key`), these endpoints take it as
`Authorization: Bearer <key>` or `x-api-key`, or the dashboard's session cookie. A
missing credential goes through the same comparisons as a wrong one and gets the same
message, so neither the time taken nor the answer tells a caller anything about the key.
"""

from __future__ import annotations

from collections.abc import Mapping

from switchpoint.config.schema import Config
from switchpoint.errors import GatewayError
from switchpoint.ingress.call_options import client_key
from switchpoint.keys.master_key import MasterKey
from switchpoint.server.request import Request

SESSION_COOKIE = "switchpoint_admin"
# Shown for a missing and for a wrong key alike.
REJECTION = "this endpoint needs the gateway's master key (Authorization: Bearer <key>)"


def cookie_value(header: str | None, name: str) -> str | None:
    if not header:
        return None
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key.strip() == name:
            return value.strip()
    return None


class AdminAuth:
    def __init__(self, master: MasterKey) -> None:
        self.master = master

    @classmethod
    def from_config(cls, config: Config, environ: Mapping[str, str]) -> AdminAuth:
        return cls(MasterKey.from_config(config, environ))

    @property
    def enabled(self) -> bool:
        return self.master.set

    def new_session(self) -> str:
        return self.master.new_session()

    def key_matches(self, candidate: str | None) -> bool:
        return self.master.matches(candidate)

    def allows(self, request: Request) -> bool:
        """Whether `request` may use an admin endpoint."""
        if not self.master.set:
            return True
        # Both checks always run: a request without a header costs what one with a wrong
        # header does.
        by_key = self.master.matches(client_key(request))
        by_cookie = self.master.session_matches(
            cookie_value(request.header(b"cookie"), SESSION_COOKIE)
        )
        return by_key | by_cookie

    def require(self, request: Request) -> None:
        if not self.allows(request):
            raise GatewayError("authentication", REJECTION)
