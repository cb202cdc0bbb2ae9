"""What can go wrong on the wire, before any provider semantics apply."""

from __future__ import annotations


class TransportError(Exception):
    """The exchange with the upstream failed. `phase` says where: connect, send, headers,
    body. `received_bytes` tells whether any of the response had arrived."""

    def __init__(self, message: str, *, phase: str, received_bytes: int = 0) -> None:
        super().__init__(message)
        self.phase = phase
        self.received_bytes = received_bytes


class ConnectError(TransportError):
    def __init__(self, message: str) -> None:
        super().__init__(message, phase="connect")


class LocalResourcesExhausted(ConnectError):
    """The gateway itself could not open a connection: it is out of file descriptors,
    ephemeral ports or socket memory. Nothing reached the upstream, and nothing about
    the upstream's health can be read from it."""


class ReadTimeout(TransportError):
    """No data within the allowed time (first byte, or idle gap in a stream)."""


class ConnectionDropped(TransportError):
    """The upstream closed or reset the connection mid-exchange."""


class InvalidHttpResponse(ConnectionDropped):
    """What the upstream sent is not an HTTP response that can be taken (it does not
    parse, or its head is past the size limit); the connection is closed, as after a
    drop."""
