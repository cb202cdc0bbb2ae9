"""What the dashboard and /metrics show of the ledger: its queue, and cost per completed
outcome from its reports.

The queue figures are read from the writer's counters (no I/O); the reports are SQL on
the ledger's store, run in a thread, and the dashboard caches them for a few seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from switchpoint.ledger.database import DATABASE_ERRORS, Connection
from switchpoint.ledger.ledger import Ledger
from switchpoint.ledger.reports import Metric as ReportMetric
from switchpoint.ledger.reports import ReportGroup, outcome_report
from switchpoint.ledger.store import LedgerUnavailable

# The dashboard's cost-per-outcome window.
WINDOW_S = 24 * 3600
_ERRORS: tuple[type[BaseException], ...] = (LedgerUnavailable, *DATABASE_ERRORS)


def _group(entry: ReportGroup) -> dict[str, Any]:
    return {
        "key": entry.key,
        "requests": entry.requests,
        "tasks": entry.tasks,
        "completed_outcomes": entry.completed_outcomes,
        "success_rate": entry.success_rate,
        "cost_usd": round(entry.cost_usd, 6),
        "cost_per_completed_outcome": entry.cost_per_completed_outcome,
        "tokens_per_completed_outcome": entry.tokens_per_completed_outcome,
    }


class LedgerPanel:
    def __init__(self, ledger: Ledger, metric: ReportMetric) -> None:
        self.ledger = ledger
        self.metric = metric

    def stats(self) -> dict[str, Any]:
        writer = self.ledger.writer
        return {
            "database": self.ledger.describe(),
            "available": writer.available,
            "queue_depth": writer.queue_depth,
            "max_queue": writer.max_queue,
            "dropped": writer.dropped_total,
            "written": writer.written_total,
        }

    async def reports(self) -> dict[str, Any]:
        now = time.time()
        since = now - WINDOW_S

        def read(connection: Connection) -> dict[str, Any]:
            out: dict[str, Any] = {"window_s": WINDOW_S}
            for by in ("workload", "model"):
                report = outcome_report(
                    connection, since=since, until=now, by=by, metric=self.metric, changes=False
                )
                out[f"by_{by}"] = [_group(g) for g in report.groups if g.key is not None]
            return out

        try:
            return await asyncio.to_thread(self.ledger.store.run, read)
        except _ERRORS as exc:
            return {"error": f"the ledger database is unavailable ({type(exc).__name__})"}

    def metrics(self) -> Iterator[Metric]:
        writer = self.ledger.writer
        yield GaugeMetricFamily(
            "switchpoint_ledger_queue_depth",
            "Call records accepted by the ledger and not yet written.",
            value=writer.queue_depth,
        )
        yield GaugeMetricFamily(
            "switchpoint_ledger_available",
            "1 while the ledger database accepts writes, 0 while it is failing.",
            value=1 if writer.available else 0,
        )
        family = CounterMetricFamily(
            "switchpoint_ledger_dropped_records",
            "Call records that will never be written, by why: queue_full, rejected.",
            labels=["reason"],
        )
        family.add_metric(["queue_full"], writer.dropped_full_total)
        family.add_metric(["rejected"], writer.dropped_failed_total)
        yield family
        yield CounterMetricFamily(
            "switchpoint_ledger_written_records",
            "Call records written to the ledger database.",
            value=writer.written_total,
        )
        yield CounterMetricFamily(
            "switchpoint_ledger_write_errors",
            "Failed attempts to write a batch to the ledger database.",
            value=writer.write_errors_total,
        )
