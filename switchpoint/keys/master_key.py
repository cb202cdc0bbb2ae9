"""The gateway's master key, and the one way it is compared.

Whatever is presented (nothing, a wrong key of any length, the key) is hashed and the
digests compared with `hmac.compare_digest`, so the time taken says nothing about the
key's length or content. The dashboard's session cookie holds its expiry and an HMAC of
it under the key: a value only the key's holder can compute, that is not the key itself,
and that stops working when it expires (a copied cookie is not good for ever).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from switchpoint.config.schema import Config

_SESSION_CONTEXT = b"switchpoint admin session v2 "
# How long a dashboard session lasts; the cookie's Max-Age says the same to the browser.
SESSION_TTL_S = 12 * 3600


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()


class MasterKey:
    def __init__(self, key: str | None) -> None:
        key = (key or "").strip()
        self.set = bool(key)
        self._digest = _digest(key)
        self._key = key.encode("utf-8", "surrogateescape")

    @classmethod
    def from_config(cls, config: Config, environ: Mapping[str, str]) -> MasterKey:
        return cls(environ.get(config.server.master_key_env))

    def matches(self, presented: str | None) -> bool:
        """Whether `presented` is the key (never true when no key is set)."""
        return hmac.compare_digest(_digest(presented or ""), self._digest) and self.set

    def _session_mac(self, expires: str) -> str:
        return hmac.new(self._key, _SESSION_CONTEXT + expires.encode(), hashlib.sha256).hexdigest()

    def new_session(self, now: float | None = None) -> str:
        """A session token, `<expiry>.<mac>`, good for `SESSION_TTL_S`."""
        expires = str(int((time.time() if now is None else now) + SESSION_TTL_S))
        return f"{expires}.{self._session_mac(expires)}"

    def session_matches(self, presented: str | None, now: float | None = None) -> bool:
        expires, _, mac = (presented or "").partition(".")
        # The MAC is computed and compared whatever was presented, so that a malformed
        # token costs what a forged one does.
        genuine = hmac.compare_digest(self._session_mac(expires), mac)
        unexpired = expires.isdigit() and int(expires) > (time.time() if now is None else now)
        return genuine and unexpired and self.set
