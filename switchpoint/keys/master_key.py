"""The gateway's master key, and the one way it is compared.

Whatever is presented (nothing, a wrong key of any length, the key) is hashed and the
digests compared with `hmac.compare_digest`, so the time taken says nothing about the
key's length or content. The dashboard's session cookie is an HMAC of the key: a value
only the key's holder can compute, that is not the key itself.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from switchpoint.config.schema import Config

_SESSION_CONTEXT = b"switchpoint admin session v1"


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()


class MasterKey:
    def __init__(self, key: str | None) -> None:
        key = (key or "").strip()
        self.set = bool(key)
        self._digest = _digest(key)
        self.session_token = hmac.new(key.encode(), _SESSION_CONTEXT, hashlib.sha256).hexdigest()
        self._session_digest = _digest(self.session_token)

    @classmethod
    def from_config(cls, config: Config, environ: Mapping[str, str]) -> MasterKey:
        return cls(environ.get(config.server.master_key_env))

    def matches(self, presented: str | None) -> bool:
        """Whether `presented` is the key (never true when no key is set)."""
        return hmac.compare_digest(_digest(presented or ""), self._digest) and self.set

    def session_matches(self, presented: str | None) -> bool:
        return hmac.compare_digest(_digest(presented or ""), self._session_digest) and self.set
