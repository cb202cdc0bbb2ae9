"""Switchpoint's own request headers, parsed and checked."""

from __future__ import annotations

import math
from dataclasses import dataclass

from switchpoint.config.schema import MAX_TOKEN_COUNT, SummarizationStrategy
from switchpoint.errors import invalid_request
from switchpoint.server.request import Request

_MAX_TASK_ID = 200


@dataclass(slots=True)
class CallOptions:
    workload: str | None = None
    budget: float = 1.0
    task_id: str | None = None
    context_tokens: int | None = None
    client_key: str | None = None
    task_budget_tokens: int | None = None
    task_budget_usd: float | None = None
    context_strategy: SummarizationStrategy | None = None


_STRATEGIES: dict[str, SummarizationStrategy] = {
    "hierarchical": "hierarchical",
    "none": "none",
    "reject": "reject",
}


def parse_call_options(request: Request) -> CallOptions:
    headers = request.headers
    options = CallOptions()
    workload = headers.get(b"x-switchpoint-workload")
    if workload is not None:
        options.workload = workload.decode("latin-1").strip()
    budget = headers.get(b"x-switchpoint-budget")
    if budget is not None:
        options.budget = _fraction(budget.decode("latin-1"), "X-Switchpoint-Budget")
    task = headers.get(b"x-switchpoint-task-id")
    if task is not None:
        options.task_id = _task_id(task.decode("latin-1"))
    tokens = headers.get(b"x-switchpoint-context-tokens")
    if tokens is not None:
        options.context_tokens = _non_negative_int(
            tokens.decode("latin-1"), "X-Switchpoint-Context-Tokens"
        )
    budget_tokens = headers.get(b"x-switchpoint-task-budget-tokens")
    if budget_tokens is not None:
        options.task_budget_tokens = _positive_int(
            budget_tokens.decode("latin-1"), "X-Switchpoint-Task-Budget-Tokens"
        )
    budget_usd = headers.get(b"x-switchpoint-task-budget-usd")
    if budget_usd is not None:
        options.task_budget_usd = _positive_usd(
            budget_usd.decode("latin-1"), "X-Switchpoint-Task-Budget-Usd"
        )
    if options.task_id is None and (budget_tokens is not None or budget_usd is not None):
        raise invalid_request(
            "a task budget needs the task it applies to: send X-Switchpoint-Task-Id too",
            "X-Switchpoint-Task-Id",
        )
    strategy = headers.get(b"x-switchpoint-context-strategy")
    if strategy is not None:
        options.context_strategy = context_strategy(strategy.decode("latin-1"))
    options.client_key = client_key(request)
    return options


def context_strategy(text: str) -> SummarizationStrategy:
    value = _STRATEGIES.get(text.strip().lower())
    if value is None:
        raise invalid_request(
            f"X-Switchpoint-Context-Strategy must be hierarchical, none or reject, got {text!r}",
            "X-Switchpoint-Context-Strategy",
        )
    return value


def client_key(request: Request) -> str | None:
    """The client's credential, in either header style. Used to identify the caller;
    never forwarded to a provider."""
    authorization = request.headers.get(b"authorization")
    if authorization is not None:
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    api_key = request.headers.get(b"x-api-key")
    if api_key is not None and api_key.strip():
        return api_key.decode("latin-1").strip()
    return None


def _fraction(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise invalid_request(
            f"{name} must be a number between 0 and 1, got {text!r}", name
        ) from None
    if not 0.0 <= value <= 1.0:
        raise invalid_request(f"{name} must be between 0 and 1, got {value:g}", name)
    return value


def _non_negative_int(text: str, name: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise invalid_request(
            f"{name} must be a whole number of tokens, got {text!r}", name
        ) from None
    if value < 0:
        raise invalid_request(f"{name} must not be negative, got {value}", name)
    if value > MAX_TOKEN_COUNT:
        # Past any real call; held, it would overflow the ledger and lose the record.
        raise invalid_request(f"{name} must be at most {MAX_TOKEN_COUNT} tokens, got {value}", name)
    return value


def _positive_int(text: str, name: str) -> int:
    value = _non_negative_int(text, name)
    if value == 0:
        raise invalid_request(f"{name} must be a positive number of tokens, got 0", name)
    return value


def _positive_usd(text: str, name: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise invalid_request(f"{name} must be an amount in USD, got {text!r}", name) from None
    if not math.isfinite(value) or value <= 0:
        raise invalid_request(f"{name} must be a positive amount in USD, got {text!r}", name)
    return value


def valid_task_id(text: str) -> bool:
    value = text.strip()
    return bool(value) and len(value) <= _MAX_TASK_ID and value.isprintable() and value == text


def _task_id(text: str) -> str:
    value = text.strip()
    if not value or len(value) > _MAX_TASK_ID or not value.isprintable():
        raise invalid_request(
            f"X-Switchpoint-Task-Id must be 1 to {_MAX_TASK_ID} printable characters",
            "X-Switchpoint-Task-Id",
        )
    return value
