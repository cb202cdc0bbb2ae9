"""Garbage-collection pauses: timed per generation, merged across workers, exported."""

from __future__ import annotations

import gc
import itertools

from switchpoint.observability.gc_pauses import GcPauses
from switchpoint.observability.metrics import GatewayMetrics, merge_metrics
from tests.unit.metrics_text import exposition_text

PAUSE_S = 0.003


def stepping_clock() -> itertools.count[float]:
    """Each reading PAUSE_S after the last: every collection lasts exactly PAUSE_S."""
    return itertools.count(0.0, PAUSE_S)


def test_each_collection_is_timed_under_its_generation() -> None:
    metrics = GatewayMetrics()
    pauses = GcPauses(metrics.gc_pauses, clock=stepping_clock().__next__)
    pauses.install()
    try:
        gc.collect(0)
        gc.collect(2)
    finally:
        pauses.uninstall()
    young, oldest = metrics.gc_pauses["0"], metrics.gc_pauses["2"]
    assert young.count >= 1 and oldest.count >= 1
    for histogram in metrics.gc_pauses.values():
        assert abs(histogram.sum - histogram.count * PAUSE_S) < 1e-9
    # 3 ms is counted in the 5 ms bucket, not the 2.5 ms one.
    cumulative = dict(oldest.cumulative())
    assert cumulative["0.0025"] == 0 and cumulative["0.005"] == oldest.count


def test_nothing_is_recorded_once_uninstalled_and_installing_twice_counts_once() -> None:
    metrics = GatewayMetrics()
    pauses = GcPauses(metrics.gc_pauses, clock=stepping_clock().__next__)
    before = len(gc.callbacks)
    pauses.install()
    pauses.install()
    assert len(gc.callbacks) == before + 1
    gc.collect(2)
    counted = metrics.gc_pauses["2"].count
    assert counted >= 1
    pauses.uninstall()
    assert len(gc.callbacks) == before
    gc.collect(2)
    assert metrics.gc_pauses["2"].count == counted


def test_pauses_are_merged_across_workers_and_exported() -> None:
    first, second = GatewayMetrics(), GatewayMetrics()
    first.gc_pauses["0"].observe(0.0004)
    second.gc_pauses["0"].observe(0.04)
    second.gc_pauses["2"].observe(0.2)
    total = merge_metrics([first, second])
    assert total.gc_pauses["0"].count == 2
    assert abs(total.gc_pauses["0"].sum - 0.0404) < 1e-9
    assert total.gc_pauses["1"].count == 0
    text = exposition_text(total)
    assert 'switchpoint_gc_pause_seconds_count{generation="0"} 2.0' in text
    assert 'switchpoint_gc_pause_seconds_bucket{generation="0",le="0.0005"} 1.0' in text
    assert 'switchpoint_gc_pause_seconds_bucket{generation="2",le="0.1"} 0.0' in text
    assert 'switchpoint_gc_pause_seconds_bucket{generation="2",le="0.25"} 1.0' in text
