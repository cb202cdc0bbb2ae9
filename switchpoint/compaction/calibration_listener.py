"""Teaching the calibrator from billed usage: a listener on the event bus.

When a call ends, its served attempt's reported input tokens are compared with the
count made for that very (provider, model) before dispatch (`CallRecord.token_count`):
the calibrator (per worker process) learns how the vendor's billing compares with our
prediction. A call served by another model than the one counted (a fallback), a stream
resumed by a continuation, or a vendor counted exactly (OpenAI) teaches nothing. Cost:
a few attribute reads, and one logarithm when it learns.
"""

from __future__ import annotations

from switchpoint.events import Listener
from switchpoint.execution.records import CallRecord
from switchpoint.tokens.calibration import Calibrator


class CalibrationListener(Listener):
    def __init__(self, calibrator: Calibrator) -> None:
        self.calibrator = calibrator

    def on_call(self, call: CallRecord) -> None:
        count = call.token_count
        if count is None or count.exact:
            return
        served = call.served
        # An estimated usage may hold the gateway's own count: nothing to learn from.
        if served is None or served.usage is None or served.usage_estimated or call.continuations:
            return
        if call.token_count_target != (served.provider, served.model):
            return
        reported = served.usage.input_tokens
        if reported > 0:
            self.calibrator.observe(
                served.provider, served.model, count.uncalibrated, reported, count.basis
            )
