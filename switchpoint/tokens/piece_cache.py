"""Counts of texts already seen, keyed by their content, so resent history costs nothing.

An agent loop resends its whole history with every request; only the new messages need
counting. Entries are keyed by (hash, length) of the text itself, not of a message, so
the same tool output hits whether it arrives in an OpenAI or an Anthropic body, and
nothing but integers is kept (no copy of the text). Python's string hash is 64-bit and
salted per process: with the default 100,000 entries the chance that two live texts of
equal length collide is about 3e-10, and a collision costs a miscount of one text, not
a wrong answer.

Thread-safe: `TokenCounter.count_async` refines counts in a worker thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Final

Key = tuple[int, int]

# Entry slots: the estimate in 1/SCALE tokens, then exact counts (-1: not counted yet).
UNITS: Final = 0
O200K: Final = 1
CL100K: Final = 2


def key_of(text: str) -> Key:
    return (hash(text), len(text))


class PieceCache:
    def __init__(self, max_entries: int = 100_000) -> None:
        if max_entries <= 0:
            raise ValueError("max_entries must be positive")
        self.max_entries = max_entries
        self._entries: OrderedDict[Key, list[int]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Key) -> list[int] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: Key, entry: list[int]) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0
