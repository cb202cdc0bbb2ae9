"""Google's error body: a `google.rpc.Status` as `{"error": {"code", "message", "status",
"details"}}` (in a one-element array on some endpoints)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from switchpoint.protocols.retry_delays import retry_delay


@dataclass(slots=True)
class GoogleError:
    message: str | None = None
    status: str | None = None  # e.g. RESOURCE_EXHAUSTED, INVALID_ARGUMENT
    details: list[dict[str, Any]] = field(default_factory=list)

    def reasons(self) -> list[str]:
        """`ErrorInfo.reason`s, e.g. API_KEY_INVALID."""
        return [
            str(d["reason"])
            for d in self.details
            if str(d.get("@type", "")).endswith("google.rpc.ErrorInfo") and "reason" in d
        ]

    def quota_ids(self) -> list[str]:
        """The violated quotas' ids, e.g. GenerateRequestsPerDayPerProjectPerModel."""
        return [
            violation["quotaId"]
            for detail in self.details
            if str(detail.get("@type", "")).endswith("google.rpc.QuotaFailure")
            # Not a list (a number, an object): no violations to read, not a TypeError.
            for violation in _list(detail.get("violations"))
            if isinstance(violation, dict) and isinstance(violation.get("quotaId"), str)
        ]

    def retry_delay_s(self) -> float | None:
        """`RetryInfo.retryDelay` (a protobuf Duration such as "17s" or "0.5s")."""
        for detail in self.details:
            if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
                delay = detail.get("retryDelay")
                if isinstance(delay, str) and delay.endswith("s"):
                    try:
                        seconds = float(delay[:-1])
                    except ValueError:
                        return None
                    return retry_delay(seconds)
        return None


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def parse_error(body: object) -> GoogleError:
    if isinstance(body, list) and body:
        body = body[0]
    if not isinstance(body, dict):
        return GoogleError()
    error = body.get("error", body)
    if isinstance(error, str):
        return GoogleError(message=error)
    if not isinstance(error, dict):
        return GoogleError()
    message = error.get("message")
    status = error.get("status")
    details = error.get("details")
    return GoogleError(
        message=message if isinstance(message, str) else None,
        status=status if isinstance(status, str) else None,
        details=[d for d in details if isinstance(d, dict)] if isinstance(details, list) else [],
    )
