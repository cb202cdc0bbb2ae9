"""Counts of texts already seen, keyed by their content, so resent history costs nothing.

An agent loop resends its whole history with every request; only the new messages need
counting. Entries are keyed by (hash, length) of the text itself, not of a message, so
the same tool output hits whether it arrives in an OpenAI or an Anthropic body, and
nothing but integers is kept (no copy of the text). Python's string hash is 64-bit and
salted per process: with the default 200,000 entries the chance that two live texts of
equal length collide is about 1e-9, and a collision costs a miscount of one text, not a
wrong answer.

Eviction is generational rather than strict LRU, because a lookup runs for every large
text of every request and must cost a dict access, not a lock and a reordering: new
entries go to a young generation; when it is full it becomes the old one and the previous
old generation is dropped; a hit in the old generation moves the entry back to the young
one. Recently used entries therefore survive, and at most `max_entries` are held. Each
step is a single dict operation or attribute rebinding, atomic under the GIL, so the
cache is safe to share with the worker thread `TokenCounter.count_async` uses (a race can
at worst lose an entry, which is then counted again).
"""

from __future__ import annotations

from typing import Final

Key = tuple[int, int]

# Entry slots: the estimate in 1/SCALE tokens, then exact counts (-1: not counted yet).
UNITS: Final = 0
O200K: Final = 1
CL100K: Final = 2


def key_of(text: str) -> Key:
    return (hash(text), len(text))


class PieceCache:
    def __init__(self, max_entries: int = 200_000) -> None:
        if max_entries < 2:
            raise ValueError("max_entries must be at least 2")
        self.max_entries = max_entries
        self._generation = max_entries // 2
        self._young: dict[Key, list[int]] = {}
        self._old: dict[Key, list[int]] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._young) + len(self._old)

    def get(self, key: Key) -> list[int] | None:
        entry = self._young.get(key)
        if entry is None:
            entry = self._old.pop(key, None)
            if entry is None:
                self.misses += 1
                return None
            self._store(key, entry)
        self.hits += 1
        return entry

    def put(self, key: Key, entry: list[int]) -> None:
        self._store(key, entry)

    def _store(self, key: Key, entry: list[int]) -> None:
        young = self._young
        if len(young) >= self._generation:
            self._old = young
            young = self._young = {}
        young[key] = entry

    def clear(self) -> None:
        self._young = {}
        self._old = {}
        self.hits = self.misses = 0
