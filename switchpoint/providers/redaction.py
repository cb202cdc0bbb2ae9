"""Scrubbing secrets from anything a provider says before it reaches a client or a log."""

from __future__ import annotations

import re

# Key shapes of the major vendors, in case a provider echoes a key we do not hold.
_KEY_PATTERNS = re.compile(
    r"(sk-[A-Za-z0-9_\-*]{6,}|sk-ant-[A-Za-z0-9_\-*]{6,}|AIza[0-9A-Za-z_\-]{20,}"
    r"|Bearer\s+[A-Za-z0-9._\-]{8,})"
)
# What a vendor's error code or type looks like (`context_length_exceeded`,
# `overloaded_error`, `RESOURCE_EXHAUSTED`): anything else is not passed on.
_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,63}")


class Redactor:
    def __init__(self, secrets: list[str]) -> None:
        self._secrets = [s for s in secrets if len(s) >= 4]

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "[redacted]")
        return _KEY_PATTERNS.sub("[redacted]", text)

    def code(self, code: str | None) -> str | None:
        """A vendor's error code or type, forwarded to clients: only when it has the shape
        of one and holds no secret (a vendor or a proxy may echo anything there)."""
        if code is None or _CODE.fullmatch(code) is None or self(code) != code:
            return None
        return code
