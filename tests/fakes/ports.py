"""A loopback port that refuses connections, for "upstream is down" tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def closed_port() -> Iterator[int]:
    """Yield a 127.0.0.1 port on which every connection attempt is refused.

    The port stays bound (but never listening) for the duration, so no other
    process on the machine can start listening on it meanwhile; a connect to a
    bound, non-listening TCP socket is answered with RST, i.e. ECONNREFUSED.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
    finally:
        sock.close()
