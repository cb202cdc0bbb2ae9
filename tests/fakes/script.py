"""Fault scripting: a FIFO of one-shot faults plus persistent modes.

A request takes the first queued fault that targets its model (or any model)
and applies to its kind (stream or not); failing that, the persistent mode for
its model, then the persistent mode for all models; failing that, it gets the
normal answer. Queued faults are one-shot; modes stay until cleared.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from tests.fakes.faults import Fault


@dataclass(frozen=True)
class _Entry:
    fault: Fault
    model: str | None


class FaultScript:
    """Thread-safe: tests script from their thread, handlers take on the loop's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Entry] = []
        self._modes: dict[str | None, Fault] = {}

    def enqueue(self, *faults: Fault, model: str | None = None) -> None:
        with self._lock:
            self._queue.extend(_Entry(f, model) for f in faults)

    def set_mode(self, fault: Fault, model: str | None = None) -> None:
        with self._lock:
            self._modes[model] = fault

    def clear_mode(self, model: str | None = None) -> None:
        with self._lock:
            self._modes.pop(model, None)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._modes.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return [e.fault for e in self._queue]

    def take(self, model: str | None, *, stream: bool) -> Fault | None:
        with self._lock:
            for i, entry in enumerate(self._queue):
                if entry.model in (None, model) and entry.fault.applies(stream=stream):
                    del self._queue[i]
                    return entry.fault
            for key in (model, None):
                mode = self._modes.get(key)
                if mode is not None and mode.applies(stream=stream):
                    return mode
            return None
