"""The X-Switchpoint-* request headers: what each accepts, and the 400 for the rest."""

from __future__ import annotations

import pytest

from switchpoint.config.schema import MAX_TOKEN_COUNT
from switchpoint.errors import GatewayError
from switchpoint.ingress.call_options import CallOptions, parse_call_options
from switchpoint.server.request import Request


def options(headers: dict[str, str]) -> CallOptions:
    raw = {name.lower().encode(): value.encode() for name, value in headers.items()}
    return parse_call_options(Request("POST", "/v1/chat/completions", "", raw, b"", "t", "1.1"))


def refused(headers: dict[str, str]) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        options(headers)
    assert caught.value.status == 400
    return caught.value


def test_accepted_values() -> None:
    parsed = options(
        {
            "X-Switchpoint-Task-Id": "PR-1",
            "X-Switchpoint-Budget": "0.25",
            "X-Switchpoint-Context-Tokens": "700000",
            "X-Switchpoint-Task-Budget-Tokens": str(MAX_TOKEN_COUNT),
            "X-Switchpoint-Task-Budget-Usd": "2.5",
        }
    )
    assert (parsed.task_id, parsed.budget, parsed.context_tokens) == ("PR-1", 0.25, 700_000)
    assert (parsed.task_budget_tokens, parsed.task_budget_usd) == (MAX_TOKEN_COUNT, 2.5)


@pytest.mark.parametrize(
    "name", ["X-Switchpoint-Task-Budget-Tokens", "X-Switchpoint-Context-Tokens"]
)
@pytest.mark.parametrize("value", [str(MAX_TOKEN_COUNT + 1), "99999999999999999999", "9" * 5000])
def test_token_counts_past_any_real_call_are_refused(name: str, value: str) -> None:
    # Held, such a number overflowed the ledger's 64-bit column: the call's record was
    # dropped, and with it its spend against the key's budget.
    error = refused({"X-Switchpoint-Task-Id": "t", name: value})
    assert error.param == name
    assert name in error.message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-Switchpoint-Task-Budget-Tokens", "-5"),
        ("X-Switchpoint-Task-Budget-Tokens", "0"),
        ("X-Switchpoint-Task-Budget-Tokens", "1.5"),
        ("X-Switchpoint-Context-Tokens", "many"),
        ("X-Switchpoint-Task-Budget-Usd", "nan"),
        ("X-Switchpoint-Task-Budget-Usd", "inf"),
        ("X-Switchpoint-Budget", "-0.1"),
    ],
)
def test_bad_values_name_their_header(name: str, value: str) -> None:
    assert refused({"X-Switchpoint-Task-Id": "t", name: value}).param == name
