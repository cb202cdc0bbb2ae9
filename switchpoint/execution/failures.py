"""Turning provider failures into the error the client receives."""

from __future__ import annotations

from switchpoint.errors import ErrorKind, GatewayError
from switchpoint.execution.records import SKIPPED_OPEN, CallRecord
from switchpoint.execution.targets import Target
from switchpoint.providers.errors import ProviderError

_KINDS: dict[str, ErrorKind] = {
    "rate_limited": "rate_limit",
    "overloaded": "overloaded",
    "server_error": "upstream_error",
    "connect": "upstream_error",
    "timeout": "timeout",
    "stalled": "timeout",
    "dropped": "upstream_error",
    "invalid_response": "upstream_error",
    "truncated": "upstream_error",
    "stream_error": "upstream_error",
    "context_length": "context_length_exceeded",
    "content_policy": "content_policy",
    "prefill_rejected": "upstream_error",
    "auth": "upstream_error",
    "quota": "unavailable",
    "bad_request": "invalid_request",
    "unsupported": "invalid_request",
    "not_found": "not_found",
    "unavailable": "unavailable",
    "local_resources": "overloaded",
}

# Statuses that describe our gateway's relation with the provider, not the client's
# request: a client must not be told its own key is wrong when ours was refused.
_GATEWAY_SIDE = {
    # A provider's 500 is a bad gateway from the client's side: a 500 from switchpoint
    # would read as switchpoint's own failure. (Overload keeps the vendor's 503/529,
    # which its SDKs map to their overload errors.)
    "server_error": 502,
    "auth": 502,
    "quota": 503,
    "connect": 502,
    "dropped": 502,
    "invalid_response": 502,
    "truncated": 502,
    "stream_error": 502,
    "timeout": 504,
    "stalled": 504,
    "prefill_rejected": 502,
    "unavailable": 503,
    # The gateway's own overload: 503 and Retry-After, which every SDK retries.
    "local_resources": 503,
}


def gateway_error_for(error: ProviderError, target: Target, context_tokens: int) -> GatewayError:
    """`context_tokens`: the gateway's estimate of the request, stated with a context
    overflow (at least one more than the model's context: the vendor refused it)."""
    kind = _KINDS.get(error.kind, "upstream_error")
    status = _GATEWAY_SIDE.get(error.kind) or error.status
    limit = target.profile.max_context
    return GatewayError(
        kind,
        f"{target.provider} ({target.model}): {error.message}",
        status=status,
        code=error.vendor_type if kind in ("invalid_request", "content_policy") else None,
        retry_after_s=error.retry_after_s,
        context=(max(context_tokens, limit + 1), limit)
        if kind == "context_length_exceeded"
        else None,
    )


# Statuses that say "not now" (overloaded, unavailable), and the wait suggested with
# them when no vendor gave one.
_TRY_AGAIN_SOON = frozenset({503, 529})
_DEFAULT_RETRY_AFTER_S = 1.0


def exhausted_error(last: ProviderError | None, call: CallRecord) -> GatewayError:
    if last is None:
        return GatewayError(
            "unavailable",
            "no provider can serve this request right now",
            retry_after_s=5.0,
        )
    tried = [a for a in call.attempts if a.outcome != SKIPPED_OPEN]
    final = tried[-1] if tried else None
    kind = _KINDS.get(last.kind, "upstream_error")
    status = _GATEWAY_SIDE.get(last.kind) or last.status
    where = f"{final.provider} ({final.model})" if final else "the provider"
    skipped = len(call.attempts) - len(tried)
    note = f", {skipped} target(s) skipped (circuit breaker open)" if skipped else ""
    retry_after_s = last.retry_after_s
    if retry_after_s is None and status in _TRY_AGAIN_SOON:
        # Every target is overloaded or unavailable right now: a moment's wait, said so
        # that clients (and the proxies before them) pace their retries.
        retry_after_s = _DEFAULT_RETRY_AFTER_S
    return GatewayError(
        kind,
        f"all {len(tried)} attempt(s) failed{note}; last: {where}: {last.message}",
        status=status,
        retry_after_s=retry_after_s,
    )


def all_open_error(
    skipped: list[Target], reopens_in_s: float, refused: ProviderError | None = None
) -> GatewayError:
    """Every target was skipped: each one's breaker is open. Fail fast (no provider was
    called) and say when the first breaker lets a probe through. With `refused`: the
    targets tried could not serve the request (too long for them, an answer shape they
    lack), and every one that might was skipped so."""
    names = ", ".join(f"{t.provider}/{t.model}" for t in skipped)
    which = "every target" if refused is None else "every other target that may serve it"
    why = "" if refused is None else f" ({refused.message})"
    return GatewayError(
        "unavailable",
        f"no provider can serve this request right now{why}: the circuit breaker of "
        f"{which} is open ({names}); retry in {max(1, round(reopens_in_s))}s",
        retry_after_s=max(1.0, reopens_in_s),
    )
