"""Summaries already made, keyed by a hash of exactly what they summarize.

An agent loop resends its history on every request, so the same older turns are
compressed again and again; with the cache only turns not summarized before cost a
summarizer call. The interface is async so that a shared store (Redis) can back it; the
in-memory LRU here is per process and bounded both in entries and in characters.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Protocol


class SummaryCache(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, summary: str) -> None: ...


def summary_key(*parts: str) -> str:
    """A cache key over `parts` (prompt version, kind, limits, the covered text...)."""
    digest = hashlib.sha256()
    for part in parts:
        encoded = part.encode("utf-8", "surrogatepass")
        digest.update(len(encoded).to_bytes(8, "little"))  # unambiguous concatenation
        digest.update(encoded)
    return digest.hexdigest()


class InMemorySummaryCache:
    def __init__(self, max_entries: int = 4_096, max_chars: int = 64 * 1024 * 1024) -> None:
        if max_entries <= 0 or max_chars <= 0:
            raise ValueError("cache bounds must be positive")
        self.max_entries = max_entries
        self.max_chars = max_chars
        self._entries: OrderedDict[str, str] = OrderedDict()
        self._chars = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> str | None:
        summary = self._entries.get(key)
        if summary is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return summary

    async def put(self, key: str, summary: str) -> None:
        previous = self._entries.pop(key, None)
        if previous is not None:
            self._chars -= len(previous)
        self._entries[key] = summary
        self._chars += len(summary)
        while self._entries and (
            len(self._entries) > self.max_entries or self._chars > self.max_chars
        ):
            _, evicted = self._entries.popitem(last=False)
            self._chars -= len(evicted)
