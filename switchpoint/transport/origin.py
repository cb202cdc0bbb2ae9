"""Where requests go: scheme, host and port, parsed once from a provider's base URL."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @property
    def host_header(self) -> str:
        """`host[:port]`, the port only when it is not the scheme's default."""
        default = 443 if self.tls else 80
        return self._bracketed_host if self.port == default else self.authority

    @property
    def authority(self) -> str:
        """`host:port`, always with the port (an IPv6 address in brackets)."""
        return f"{self._bracketed_host}:{self.port}"

    @property
    def _bracketed_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host


def split_base_url(url: str) -> tuple[Origin, str]:
    """(origin, path prefix without a trailing slash) for a base URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Origin(parts.scheme, parts.hostname, port), parts.path.rstrip("/")
