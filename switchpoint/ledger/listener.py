"""The ledger's ear on the event bus: every finished call that reached execution is
queued for writing. Nothing else happens on the request path."""

from __future__ import annotations

from switchpoint.events import Listener
from switchpoint.execution.records import CallRecord
from switchpoint.ledger.writer import LedgerWriter


class LedgerListener(Listener):
    def __init__(self, writer: LedgerWriter) -> None:
        self.writer = writer

    def on_call(self, call: CallRecord) -> None:
        # A request refused before any provider was tried (bad input, auth, budget)
        # consumed nothing: it is counted by metrics, not written to the ledger.
        if call.attempts:
            self.writer.submit(call)

    async def aclose(self) -> None:
        await self.writer.aclose()
