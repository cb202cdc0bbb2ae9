"""A finished call as the ledger stores it: one request row and one row per attempt.

Conversion happens on the writer's thread, never on the request path.
"""

from __future__ import annotations

from dataclasses import dataclass

from switchpoint.execution.records import AttemptRecord, CallRecord

REQUEST_COLUMNS = (
    "request_id",
    "ts",
    "key_id",
    "team",
    "workload",
    "task_id",
    "profile",
    "provider",
    "model",
    "protocol",
    "stream",
    "status",
    "http_status",
    "error_kind",
    "attempts",
    "retries",
    "fallback",
    "fallback_reasons",
    "rules",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "cost_usd",
    "cost_known",
    "latency_ms",
    "ttft_ms",
    "context_tokens",
    "task_budget_tokens",
    "task_budget_usd",
)

ATTEMPT_COLUMNS = (
    "request_id",
    "seq",
    "profile",
    "provider",
    "model",
    "reason",
    "outcome",
    "http_status",
    "error",
    "duration_ms",
    "ttft_ms",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "cost_usd",
    "cost_known",
)

_ERROR_CHARS = 500
_DAY_S = 86_400


def _insert(table: str, columns: tuple[str, ...]) -> str:
    # DO NOTHING: a batch retried after an ambiguous failure must not duplicate rows.
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)}) ON CONFLICT DO NOTHING"
    )


INSERT_REQUEST = _insert("requests", REQUEST_COLUMNS)
INSERT_ATTEMPT = _insert("attempts", ATTEMPT_COLUMNS)


@dataclass(slots=True)
class CallRows:
    request_id: str
    request: tuple[object, ...]
    attempts: list[tuple[object, ...]]
    key_id: str | None
    team: str | None
    task_id: str | None
    workload: str | None
    ts: float
    end_ts: float
    day: int
    upstream_attempts: int
    input_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    output_tokens: int
    # What the priced attempts cost (what budgets and rollups count); `cost_known` is
    # false when a price or a usage report is missing.
    known_cost_usd: float
    cost_known: bool
    task_budget_tokens: int | None
    task_budget_usd: float | None

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def clean(text: str | None, limit: int | None = None) -> str | None:
    """PostgreSQL text cannot hold NUL characters; long provider errors are cut."""
    if text is None:
        return None
    if "\x00" in text:
        text = text.replace("\x00", "")
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)


def _where_it_went(call: CallRecord) -> tuple[str | None, str | None, str | None]:
    """Profile, provider and model: the one that served, else the last one tried."""
    if call.served is not None:
        return call.served.profile, call.served.provider, call.served.model
    for attempt in reversed(call.attempts):
        if attempt.outcome != "skipped_open":
            return attempt.profile, attempt.provider, attempt.model
    decision = call.decision
    if decision is not None:
        return decision.profile, decision.provider, decision.model
    return None, None, None


def _cost_known(attempt: AttemptRecord) -> bool:
    """Whether what the attempt cost is known. An attempt that produced content (it
    succeeded, or its stream broke after content began) consumed tokens: without a
    usage report its cost is unknown, not zero."""
    if attempt.usage is not None:
        return attempt.cost_usd is not None
    return attempt.outcome != "ok" and attempt.ttft_s is None


def _attempt_row(request_id: str, seq: int, attempt: AttemptRecord) -> tuple[object, ...]:
    usage = attempt.usage
    return (
        request_id,
        seq,
        attempt.profile,
        attempt.provider,
        attempt.model,
        attempt.reason,
        attempt.outcome,
        attempt.status,
        clean(attempt.error, _ERROR_CHARS),
        _ms(attempt.duration_s) or 0.0,
        _ms(attempt.ttft_s),
        usage.input_tokens if usage else None,
        usage.cached_input_tokens if usage else None,
        usage.cache_write_tokens if usage else None,
        usage.output_tokens if usage else None,
        attempt.cost_usd,
        _cost_known(attempt),
    )


def call_rows(call: CallRecord) -> CallRows:
    request_id = clean(call.request_id) or ""
    usage = call.usage
    cost = call.cost_usd if all(_cost_known(a) for a in call.attempts) else None
    profile, provider, model = _where_it_went(call)
    decision = call.decision
    task_id = clean(call.task_id)
    key_id = clean(call.key_id)
    team = clean(call.team)
    workload = clean(call.workload)
    attempts = call.upstream_attempts
    request = (
        request_id,
        call.started_wall,
        key_id,
        team,
        workload,
        task_id,
        profile,
        provider,
        model,
        call.protocol,
        call.stream,
        call.status,
        call.http_status,
        call.error_kind,
        attempts,
        sum(1 for a in call.attempts if a.reason == "retry"),
        call.fallback,
        ",".join(call.fallback_reasons) or None,
        ",".join(decision.rules) if decision is not None and decision.rules else None,
        usage.input_tokens,
        usage.cached_input_tokens,
        usage.cache_write_tokens,
        usage.output_tokens,
        cost,
        cost is not None,
        _ms(call.duration_s) or 0.0,
        _ms(call.ttft_s),
        call.context_tokens,
        call.task_budget_tokens,
        call.task_budget_usd,
    )
    return CallRows(
        request_id=request_id,
        request=request,
        attempts=[
            _attempt_row(request_id, seq, attempt) for seq, attempt in enumerate(call.attempts)
        ],
        key_id=key_id,
        team=team,
        task_id=task_id,
        workload=workload,
        ts=call.started_wall,
        end_ts=call.started_wall + call.duration_s,
        day=int(call.started_wall // _DAY_S),
        upstream_attempts=attempts,
        input_tokens=usage.input_tokens,
        cached_input_tokens=usage.cached_input_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        output_tokens=usage.output_tokens,
        known_cost_usd=call.known_cost_usd,
        cost_known=cost is not None,
        task_budget_tokens=call.task_budget_tokens,
        task_budget_usd=call.task_budget_usd,
    )
