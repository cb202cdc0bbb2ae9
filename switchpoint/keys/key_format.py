"""What a virtual key looks like: `sk-sp-<12 hex id>-<43 url-safe characters>`.

The id is public (it names the key in reports, logs and errors); the secret part is 256
random bits, so a fast hash (SHA-256) is enough to store it: there is nothing to
brute-force, unlike a password.
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "sk-sp-"
_ID_HEX = 12
_ID_END = len(PREFIX) + _ID_HEX
_HEX = frozenset("0123456789abcdef")


def new_key() -> tuple[str, str]:
    """(key id, the full key). The full key is shown once and never stored."""
    key_id = secrets.token_hex(_ID_HEX // 2)
    return key_id, f"{PREFIX}{key_id}-{secrets.token_urlsafe(32)}"


def looks_like_key(presented: str) -> bool:
    """Shaped like a switchpoint key (whether or not it exists)."""
    return presented.startswith(PREFIX)


def key_id_of(presented: str) -> str | None:
    """The id inside a well-formed key, else None."""
    if (
        len(presented) <= _ID_END + 1
        or not presented.startswith(PREFIX)
        or presented[_ID_END] != "-"
    ):
        return None
    key_id = presented[len(PREFIX) : _ID_END]
    return key_id if set(key_id) <= _HEX else None


def key_reference(value: str) -> tuple[str, str]:
    """(the id to look up, how to name it in a message) for a key an operator names,
    by its id or by pasting the whole key (a leaked key is revoked that way). The
    message never holds a secret: a whole key is named by its id, and anything that is
    neither shape is not repeated at all."""
    key_id = key_id_of(value)
    if key_id is not None:
        return key_id, repr(key_id)
    if len(value) == _ID_HEX and set(value) <= _HEX:
        return value, repr(value)
    return value, "with that id (a key's id is 12 hex digits, as `keys list` shows)"


def hash_key(presented: str) -> str:
    return hashlib.sha256(presented.encode("utf-8", "surrogateescape")).hexdigest()
