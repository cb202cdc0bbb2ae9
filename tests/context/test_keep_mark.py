"""`switchpoint_keep` is a boolean: anything else (a string "false" above all, which
would keep the message) is a clear 400 naming the field, in each protocol."""

from __future__ import annotations

from typing import Any

import pytest

from tests.context.conftest import ContextStack

MARKED = {"role": "user", "content": "keep this?", "switchpoint_keep": "false"}

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("/v1/chat/completions", {"model": "main", "messages": [MARKED]}, "messages[0]"),
    (
        "/v1/messages",
        {"model": "claude", "max_tokens": 10, "messages": [MARKED]},
        "messages[0]",
    ),
    ("/v1/responses", {"model": "main", "input": [MARKED]}, "input[0]"),
]


@pytest.mark.parametrize(("path", "body", "param"), CASES)
def test_a_keep_mark_that_is_not_a_boolean_is_a_clear_400(
    stack: ContextStack, path: str, body: dict[str, Any], param: str
) -> None:
    response = stack.post(path, body, **{"anthropic-version": "2023-06-01"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert f"'{param}.switchpoint_keep' must be a boolean" in error["message"]
    assert stack.main.request_count() == stack.claude.request_count() == 0
