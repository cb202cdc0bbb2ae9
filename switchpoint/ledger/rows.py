"""A finished call as the ledger stores it: one request row and one row per attempt.

Conversion happens on the writer's thread, never on the request path.
"""

from __future__ import annotations

from dataclasses import dataclass

from switchpoint.execution.records import SKIPPED_OPEN, AttemptRecord, CallRecord

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
    "usage_estimated",
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
    "usage_estimated",
    "cost_usd",
    "cost_known",
    "output_capped",
    "dropped_params",
)

_ERROR_CHARS = 500
# An attempt row's token columns when the attempt reported no usage.
_NO_USAGE: tuple[None, ...] = (None, None, None, None)
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


def _where_it_went(call: CallRecord) -> tuple[str | None, str | None, str | None]:
    """Profile, provider and model: the one that served, else the last one tried."""
    if call.served is not None:
        return call.served.profile, call.served.provider, call.served.model
    for attempt in reversed(call.attempts):
        if attempt.outcome != SKIPPED_OPEN:
            return attempt.profile, attempt.provider, attempt.model
    decision = call.decision
    if decision is not None:
        return decision.profile, decision.provider, decision.model
    return None, None, None


def _attempt_row(
    request_id: str, seq: int, attempt: AttemptRecord, cost_known: bool
) -> tuple[object, ...]:
    usage = attempt.usage
    error = attempt.error
    ttft = attempt.ttft_s
    return (
        request_id,
        seq,
        attempt.profile,
        attempt.provider,
        attempt.model,
        attempt.reason,
        attempt.outcome,
        attempt.status,
        None if error is None else clean(error, _ERROR_CHARS),
        attempt.duration_s * 1000.0,
        None if ttft is None else ttft * 1000.0,
        *(
            _NO_USAGE
            if usage is None
            else (
                usage.input_tokens,
                usage.cached_input_tokens,
                usage.cache_write_tokens,
                usage.output_tokens,
            )
        ),
        attempt.usage_estimated,
        attempt.cost_usd,
        cost_known,
        attempt.output_capped,
        ",".join(attempt.dropped_params) if attempt.dropped_params else None,
    )


def call_rows(call: CallRecord) -> CallRows:
    # Once per call on the writer's thread, which shares the event loop's core: one pass
    # over the attempts for every sum, the attempt's cost judged once, no helper per
    # column.
    request_id = clean(call.request_id) or ""
    input_tokens = cached = written = output = upstream = retries = 0
    known_cost = 0.0
    all_known = True
    estimated = False
    attempt_rows = []
    for seq, attempt in enumerate(call.attempts):
        known = attempt.cost_known
        attempt_rows.append(_attempt_row(request_id, seq, attempt, known))
        usage = attempt.usage
        if usage is not None:
            input_tokens += usage.input_tokens
            cached += usage.cached_input_tokens
            written += usage.cache_write_tokens
            output += usage.output_tokens
        if attempt.cost_usd is not None:
            known_cost += attempt.cost_usd
        if not known:
            all_known = False
        if attempt.outcome != SKIPPED_OPEN:
            upstream += 1
        if attempt.reason == "retry":
            retries += 1
        if attempt.usage_estimated:
            estimated = True
    profile, provider, model = _where_it_went(call)
    decision = call.decision
    task_id = clean(call.task_id)
    key_id = clean(call.key_id)
    team = clean(call.team)
    workload = clean(call.workload)
    started = call.started_wall
    duration = call.duration_s
    ttft_s = call.ttft_s
    request = (
        request_id,
        started,
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
        upstream,
        retries,
        call.fallback,
        ",".join(call.fallback_reasons) or None,
        ",".join(decision.rules) if decision is not None and decision.rules else None,
        input_tokens,
        cached,
        written,
        output,
        estimated,
        known_cost if all_known else None,
        all_known,
        duration * 1000.0,
        None if ttft_s is None else ttft_s * 1000.0,
        call.context_tokens,
        call.task_budget_tokens,
        call.task_budget_usd,
    )
    return CallRows(
        request_id,
        request,
        attempt_rows,
        key_id,
        team,
        task_id,
        workload,
        started,
        started + duration,
        int(started // _DAY_S),
        upstream,
        input_tokens,
        cached,
        written,
        output,
        known_cost,
        all_known,
        call.task_budget_tokens,
        call.task_budget_usd,
    )
