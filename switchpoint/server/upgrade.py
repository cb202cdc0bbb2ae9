"""Upgrade requests (`Upgrade: h2c`, websocket): declined, and the request answered over
HTTP/1.1 as if it had asked for none (RFC 9110 §7.8 lets a server ignore `Upgrade`).
CONNECT is refused."""

from __future__ import annotations

import httptools

from switchpoint.server.timeouts import Timeouts

# Headers dropped when an upgrade is declined (the request is answered over HTTP/1.1).
_UPGRADE_HEADERS = frozenset((b"upgrade", b"connection", b"http2-settings"))


class Upgrades(Timeouts):
    """Upgrade requests held at their head, then answered without the upgrade."""

    def _hold_upgrade(self) -> None:
        """llhttp stops at an upgrade request's head, leaving its body unread: the message
        it reports complete is not queued (`_decline_upgrade` parses it again)."""
        if self._done_reading:
            return
        if self._parser.get_method() == b"CONNECT":
            self._fail(400, "invalid_request", "CONNECT is not supported")
            return
        self._done_reading = True
        self._upgrading = True

    def _decline_upgrade(self, data: bytes, offset: int) -> None:
        """Answer an upgrade request over HTTP/1.1, as if it had asked for none: a new
        parser reads it again from its head without the upgrade and with
        `connection: close` (keep-alive after an ignored upgrade is not worth its corner
        cases), then the rest of the data."""
        if not self._upgrading or self._closing:
            return
        self._upgrading = False
        lines = [
            b"%s %s HTTP/%s\r\n" % (self._parser.get_method(), self._url, self._version.encode())
        ]
        lines.extend(
            b"%s: %s\r\n" % item
            for item in self._headers.items()
            if item[0] not in _UPGRADE_HEADERS
        )
        lines.append(b"connection: close\r\n\r\n")
        self._parser = httptools.HttpRequestParser(self)
        self._done_reading = False
        self.data_received(b"".join(lines) + data[offset:])
