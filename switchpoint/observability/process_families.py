"""Metric families that belong to one process: its ledger writer, its trace exporter, its
CPU, memory, open files and garbage collector.

One worker's numbers of this kind cannot be summed into the gateway's (a summed RSS or
"ledger available" means nothing), so with several workers every worker's families are
shown, each sample labelled `worker="<index>"`: the others' as they last published them
(`worker_share.py`, at most a second old), this worker's live. A restarted worker's
series start again from zero, which Prometheus reads as the counter reset it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, GCCollector, ProcessCollector
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

MetricSource = Callable[[], Iterable[Metric]]
# A family in a form a pickle keeps across versions of prometheus_client:
# (name, documentation, type, [(sample name, labels, value), ...]).
FamilyData = tuple[str, str, str, list[tuple[str, dict[str, str], float]]]
# Every other worker's families as last published: [(worker index, families), ...].
PeerFamilies = Callable[[], list[tuple[int, list[FamilyData]]]]


def runtime_sources() -> list[MetricSource]:
    """The process' CPU, memory and open files, and its garbage collector."""
    scratch = CollectorRegistry(auto_describe=False)  # GCCollector insists on registering
    return [ProcessCollector(registry=None).collect, GCCollector(registry=scratch).collect]


class ProcessFamilies(Collector):
    def __init__(self, sources: list[MetricSource] | None = None) -> None:
        # Other parts (the trace exporter, the ledger) add their own families here.
        self.sources: list[MetricSource] = sources if sources is not None else []
        # Set when this is one of several workers.
        self.worker: int | None = None
        self.peers: PeerFamilies | None = None

    def own(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source()

    def snapshot(self) -> list[FamilyData]:
        return [
            (
                family.name,
                family.documentation,
                family.type,
                [(s.name, dict(s.labels), float(s.value)) for s in family.samples],
            )
            for family in self.own()
        ]

    def collect(self) -> Iterator[Metric]:
        if self.peers is None or self.worker is None:
            yield from self.own()
            return
        merged: dict[str, Metric] = {}
        for index, families in [(self.worker, self.snapshot()), *self.peers()]:
            worker = str(index)
            for name, documentation, kind, samples in families:
                family = merged.get(name)
                if family is None:
                    family = merged[name] = Metric(name, documentation, kind)
                for sample_name, labels, value in samples:
                    family.add_sample(sample_name, {**labels, "worker": worker}, value)
        yield from merged.values()
