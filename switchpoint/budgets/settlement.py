"""Settling budgets when a call ends: a listener on the event bus (increments only)."""

from __future__ import annotations

from switchpoint.budgets.admission import Admission
from switchpoint.events import Listener
from switchpoint.execution.records import CallRecord


class SettlementListener(Listener):
    def __init__(self, admission: Admission) -> None:
        self.admission = admission

    def on_call(self, call: CallRecord) -> None:
        self.admission.settle(call)
