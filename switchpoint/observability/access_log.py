"""One structured JSON line per request: what was asked, where it went, what it cost.

Lines are buffered and written in batches (at most every 50 ms) so that logging costs a
request a dict and a serialisation, not a system call.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import IO

import orjson

from switchpoint.events import Listener
from switchpoint.execution.records import CallRecord

_FLUSH_AFTER_S = 0.05
_FLUSH_BYTES = 64 * 1024


class _SecondStamp:
    """ISO-8601 UTC time to the second, formatted once per second (strftime costs more
    than the rest of a line's fields together)."""

    __slots__ = ("_second", "_text")

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def __call__(self, wall: float) -> str:
        second = int(wall)
        if second != self._second:
            self._text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
            self._second = second
        return self._text


_stamp = _SecondStamp()


def call_summary(call: CallRecord) -> dict[str, object]:
    decision = call.decision
    served = call.served
    usage = call.usage
    entry: dict[str, object] = {
        "ts": _stamp(call.started_wall),
        "event": "request",
        "request_id": call.request_id,
        "protocol": call.protocol,
        "stream": call.stream,
        "workload": call.workload,
        "profile": served.profile if served else (decision.profile if decision else None),
        "provider": served.provider if served else None,
        "model": served.model if served else None,
        "fallback": call.fallback,
        "fallback_reasons": call.fallback_reasons,
        "rules": decision.rules if decision else [],
        "attempts": call.upstream_attempts,
        "retries": call.retries,
        "fallbacks": call.fallbacks,
        "context_tokens": call.context_tokens,
        "effective_max_tokens": decision.effective_max_tokens if decision else None,
        "input_tokens": usage.input_tokens,
        "cached_input_tokens": usage.cached_input_tokens,
        "output_tokens": usage.output_tokens,
        "cost_usd": call.cost_usd,
        "latency_ms": round(call.duration_s * 1000, 3),
        "provider_latency_ms": round(served.duration_s * 1000, 3) if served else None,
        "ttft_ms": round(call.ttft_s * 1000, 3) if call.ttft_s is not None else None,
        "status": call.status,
        "http_status": call.http_status,
    }
    if call.task_id:
        entry["task_id"] = call.task_id
    summarization = call.summarization
    if summarization is not None:
        entry["context_action"] = call.context_action
        entry["summarization"] = {
            "trigger": summarization.trigger,
            "outcome": summarization.outcome,
            "tokens_before": summarization.tokens_before,
            "tokens_after": summarization.tokens_after,
            "summarized_messages": summarization.summarized_messages,
            "cache_hits": summarization.cache_hits,
            "summarizer_calls": summarization.summarizer_calls,
            "ms": round(summarization.duration_s * 1000, 3),
        }
    elif decision is not None and decision.context_action != "passed":
        entry["context_action"] = decision.context_action
    if served is not None and served.output_capped is not None:
        # The request's output maximum was above the model's limit, and was capped to it.
        entry["output_capped"] = served.output_capped
    if served is not None and served.dropped_params:
        entry["dropped_params"] = served.dropped_params
    if call.continuations:
        entry["continuations"] = call.continuations
        entry["models"] = call.models
    malformed = call.malformed_events
    if malformed:
        entry["malformed_events"] = malformed
    if call.error:
        entry["error_kind"] = call.error_kind
        entry["error"] = call.error
    if len(call.attempts) > 1:
        entry["attempt_log"] = [
            {
                "provider": a.provider,
                "model": a.model,
                "reason": a.reason,
                "cause": a.cause,
                "outcome": a.outcome,
                "delivered": a.delivered,
                "status": a.status,
                "ms": round(a.duration_s * 1000, 3),
            }
            for a in call.attempts
        ]
    return entry


class AccessLog(Listener):
    def __init__(self, stream: IO[bytes] | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr.buffer
        self._pending: list[bytes] = []
        self._size = 0
        self._scheduled: asyncio.TimerHandle | None = None

    def on_call(self, call: CallRecord) -> None:
        line = orjson.dumps(call_summary(call)) + b"\n"
        self._pending.append(line)
        self._size += len(line)
        if self._size >= _FLUSH_BYTES:
            self.flush()
        elif self._scheduled is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._scheduled = loop.call_later(_FLUSH_AFTER_S, self.flush)

    def flush(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self._size = 0
        try:
            self._stream.write(data)
            self._stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken log stream must not fail requests

    async def aclose(self) -> None:
        self.flush()
