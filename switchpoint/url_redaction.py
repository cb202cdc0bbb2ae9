"""Showing a URL without the credentials it may carry (for output and logs).

A Redis, database or collector URL can hold a password in its userinfo
(`redis://:pw@host`) or in its query (`?password=pw`); where a URL is only shown to say
where something is, neither is needed.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Query parameter names whose values are secrets (redis-py's `password`, libpq's
# `password`/`sslpassword`, tokens and keys of collectors).
_SECRET_PARAMETER = re.compile(r"pass|pwd|secret|token|key|auth|sig|cred", re.IGNORECASE)


def redact_url(url: str) -> str:
    """`url` without its userinfo (`user:password@`) and with the values of secret-looking
    query parameters masked; a string that is not a URL is returned as it is."""
    try:
        parts = urlsplit(url)
    except ValueError:
        # A malformed URL (e.g. an unbalanced IPv6 bracket): show nothing of it but its
        # scheme, since where the host ends cannot be told.
        scheme = url.partition("://")[0] if "://" in url else ""
        return f"{scheme}://(unparsable URL)" if scheme else "(unparsable URL)"
    host = parts.netloc.rpartition("@")[2]
    # Built by hand: `urlunsplit` drops the `//` of an empty host (`unix:///socket`).
    start = f"{parts.scheme}:" if parts.scheme else ""
    if url.removeprefix(start).startswith("//"):
        start += f"//{host}"
    query = _redact_query(parts.query)
    return f"{start}{parts.path}" + (f"?{query}" if query else "")


def _redact_query(query: str) -> str:
    if not query:
        return ""
    pairs = []
    for pair in query.split("&"):
        name, sep, value = pair.partition("=")
        pairs.append(f"{name}=***" if sep and value and _SECRET_PARAMETER.search(name) else pair)
    return "&".join(pairs)
