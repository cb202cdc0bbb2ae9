"""Recording of every request a fake receives, readable from any thread.

The fake's handlers run on the fake's own event-loop thread while tests read
the recordings from theirs, so every access to the shared list goes through a
lock, and per-request outcomes that arrive later (the client hanging up) are
signalled with ``threading.Event``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordedRequest:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Header names lower-cased; repeated headers joined with ``", "``."""
    raw_body: bytes
    body: Any
    """The parsed JSON body, or ``None`` when it was absent or not JSON."""
    arrived_at: float
    """``time.monotonic()`` when the request's body had been read."""
    auth_header: str | None = None
    """The raw value of the header (or query parameter) carrying the key."""
    credential: str | None = None
    """The key itself, as extracted from ``auth_header``."""
    model: str | None = None
    stream: bool = False
    behaviour: str = "default"
    """``"default"``, a rejection such as ``"auth"``, or the applied fault's name."""
    status: int | None = None
    """The status line sent, or ``None`` if no status line was ever sent."""
    finished_at: float | None = None
    peer: str | None = None
    """The client's address and port: requests from one connection share it."""
    _disconnected: threading.Event = field(default_factory=threading.Event, repr=False)
    _finished: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def client_disconnected(self) -> bool:
        """True if the client went away before the fake had finished answering."""
        return self._disconnected.is_set()

    @property
    def server_seconds(self) -> float | None:
        """Time the fake spent on this request, once it has finished."""
        if self.finished_at is None:
            return None
        return self.finished_at - self.arrived_at

    def wait_disconnected(self, timeout: float = 2.0) -> bool:
        """Block until the client is seen to hang up; False on timeout."""
        return self._disconnected.wait(timeout)

    def wait_finished(self, timeout: float = 2.0) -> bool:
        """Block until the fake has finished with this request; False on timeout."""
        return self._finished.wait(timeout)

    def mark_disconnected(self) -> None:
        self._disconnected.set()

    def mark_finished(self) -> None:
        if not self._finished.is_set():
            self.finished_at = time.monotonic()
            self._finished.set()


class Recorder:
    """Thread-safe, append-only log of requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._requests: list[RecordedRequest] = []

    def add(self, request: RecordedRequest) -> None:
        with self._arrived:
            self._requests.append(request)
            self._arrived.notify_all()

    def snapshot(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def count(self, model: str | None = None) -> int:
        with self._lock:
            if model is None:
                return len(self._requests)
            return sum(1 for r in self._requests if r.model == model)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def wait_for(self, count: int, timeout: float = 2.0) -> bool:
        """Block until at least ``count`` requests have arrived."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self._requests) >= count, timeout)
