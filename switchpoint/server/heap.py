"""Garbage-collector settings for a long-running server.

Every request allocates a few hundred container objects (dicts, records, futures) that
die young, so CPython's default generation-0 threshold (700 allocations) runs a
collection every couple of requests; each also walks whatever survived into the young
generations. After start-up, what is alive (configuration, the router, tokenizer tables)
lives as long as the process: it is moved out of the collector's sight (`gc.freeze`), and
the young-generation threshold is raised so collections run every few dozen requests.
Reference cycles are still collected; they just wait a little longer.
"""

from __future__ import annotations

import gc

# Allocations (net of deallocations) between young-generation collections.
YOUNG_THRESHOLD = 20_000


def settle_heap() -> None:
    """Collect what start-up left behind, then freeze the survivors. Called once at ready
    and again after late start-up work (the tokenizer preload)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
