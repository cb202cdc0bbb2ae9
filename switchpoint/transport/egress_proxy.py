"""Egress through an HTTP proxy, as the standard variables ask (`HTTPS_PROXY`,
`HTTP_PROXY`, `NO_PROXY`, in either case).

A connection to a vendor through a proxy is a tunnel (`CONNECT host:port`), whatever the
vendor's scheme: TLS runs end to end inside it, so the proxy sees neither keys nor
prompts (unless it is a TLS-inspecting one, whose CA `SSL_CERT_FILE` names). The tunnel
is opened once per pooled connection, off the request path of every call that reuses it.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from switchpoint.transport.errors import ConnectError
from switchpoint.transport.origin import Origin

# A proxy's answer to CONNECT is a status line and a few headers.
_MAX_REPLY_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class EgressProxy:
    host: str
    port: int
    # `Basic ...`, from credentials in the proxy's URL.
    authorization: str | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def proxy_for(origin: Origin, environ: Mapping[str, str] = os.environ) -> EgressProxy | None:
    """The proxy the standard variables name for `origin`, or None for a direct
    connection. Raises ConnectError for a proxy URL that cannot be used."""
    names = ("HTTPS_PROXY", "https_proxy") if origin.tls else ("HTTP_PROXY", "http_proxy")
    url = next((environ[name] for name in names if environ.get(name)), None)
    if url is None or _bypassed(origin.host, environ):
        return None
    return _parse(url)


def _bypassed(host: str, environ: Mapping[str, str]) -> bool:
    """NO_PROXY: `*`, or a list of host names (a name also covers its subdomains; a
    leading dot is allowed), IP addresses and CIDR ranges."""
    listed = environ.get("NO_PROXY") or environ.get("no_proxy") or ""
    host = host.lower()
    for entry in (part.strip().lower() for part in listed.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        entry = entry.lstrip(".")
        if host == entry or host.endswith("." + entry):
            return True
        try:
            if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _parse(url: str) -> EgressProxy:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme != "http" or not parts.hostname:
        raise ConnectError(
            f"the egress proxy {parts.scheme}://{parts.hostname or '?'} cannot be used: "
            "only http:// proxies are supported"
        )
    authorization = None
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
    return EgressProxy(parts.hostname, parts.port or 80, authorization)


def connect_request(origin: Origin, proxy: EgressProxy) -> bytes:
    target = origin.authority
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    if proxy.authorization is not None:
        lines.append(f"Proxy-Authorization: {proxy.authorization}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class TunnelOpening(asyncio.Protocol):
    """Sends CONNECT and waits for the proxy's answer; `opened` is done once the tunnel
    is up (the transport then carries the vendor's bytes) or failed."""

    def __init__(self, request: bytes, origin: Origin, proxy: EgressProxy) -> None:
        self._request = request
        self._origin = origin
        self._proxy = proxy
        self._reply = b""
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self._request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if self.opened.done():
            return
        self._reply += data
        head, separator, rest = self._reply.partition(b"\r\n\r\n")
        if not separator:
            if len(self._reply) > _MAX_REPLY_BYTES:
                self._fail("an answer to CONNECT that does not end")
            return
        status_line = head.split(b"\r\n", 1)[0].decode("latin-1", "replace")
        fields = status_line.split(" ", 2)
        if len(fields) < 2 or not fields[1].startswith("2") or rest:
            self._fail(f"answered CONNECT with {status_line!r}")
            return
        self.opened.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail("closed the connection before the tunnel was open")

    def _fail(self, why: str) -> None:
        if not self.opened.done():
            self.opened.set_exception(
                ConnectError(
                    f"cannot reach {self._origin.host_header} through the egress proxy "
                    f"{self._proxy.address}: it {why}"
                )
            )
