"""How long the garbage collector stops the gateway, by generation.

CPython's cycle collector stops the process while it runs: the event loop, and with it
every request and stream. A collection walks every tracked object of the generations it
collects; with thousands of concurrent streams the young generation holds the streams'
own state (some ninety objects each), and one collection then pauses all of them for
tens of milliseconds (docs/performance.md). prometheus_client's GC collector counts
collections; this measures how long each one took, so that a latency tail can be put
side by side with the pauses.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping
from typing import Any

from switchpoint.observability.histogram import Histogram
from switchpoint.observability.metrics import GC_GENERATIONS


class GcPauses:
    """While installed, observes each collection's duration into `histograms[generation]`
    (keys `GC_GENERATIONS`). Collections run in whichever thread allocates; their callbacks
    hold the GIL and never overlap, so no lock is needed."""

    def __init__(
        self,
        histograms: Mapping[str, Histogram],
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        # Indexed by the generation number the collector reports.
        self._histograms = [histograms[generation] for generation in GC_GENERATIONS]
        self._clock = clock
        self._started: float | None = None
        # One bound method, so that `uninstall` removes exactly what `install` added.
        self._callback = self._on_gc

    def install(self) -> None:
        if not any(callback is self._callback for callback in gc.callbacks):
            gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        gc.callbacks[:] = [callback for callback in gc.callbacks if callback is not self._callback]
        self._started = None

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = self._clock()
            return
        started = self._started
        if started is None:
            return  # installed during a collection
        self._started = None
        self._histograms[info["generation"]].observe(self._clock() - started)
