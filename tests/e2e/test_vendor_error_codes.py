"""A vendor error's code or type reaches the client only when it looks like one.

The message of a vendor's error was always scrubbed of keys, but its `code` (OpenAI),
`type` (Anthropic) or `status` (Gemini) was copied into the client's error as it came:
a vendor or a proxy in front of it that echoed the key there handed it to the client.
Found by a security probe."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import CLIENT_KEY, HTTP, Stack
from tests.fakes.faults import RawResponse

HEADERS = {"authorization": f"Bearer {CLIENT_KEY}"}


def error_body(profile: str, code: str) -> bytes:
    if profile == "oa":
        error = {"message": "bad request", "type": "invalid_request_error", "code": code}
        return json.dumps({"error": error}).encode()
    if profile == "an":
        return json.dumps({"type": "error", "error": {"type": code, "message": "x"}}).encode()
    return json.dumps({"error": {"code": 400, "message": "x", "status": code}}).encode()


def client_error(stack: Stack, profile: str, code: str) -> dict[str, object]:
    stack.fake(profile).enqueue(RawResponse(status=400, body=error_body(profile, code)))
    answer = HTTP.post(
        f"{stack.base_url}/v1/chat/completions",
        json={"model": profile, "messages": [{"role": "user", "content": "hi"}]},
        headers=HEADERS,
        timeout=30,
    )
    assert answer.status_code == 400, answer.text
    error: dict[str, object] = answer.json()["error"]
    return error


@pytest.mark.parametrize("profile", ["oa", "an", "ge"])
def test_a_key_in_the_vendors_error_code_never_reaches_the_client(
    stack: Stack, profile: str
) -> None:
    key = stack.keys()[profile]
    error = client_error(stack, profile, key)
    assert key not in json.dumps(error)
    assert error["code"] is None


@pytest.mark.parametrize("profile", ["oa", "an", "ge"])
def test_a_code_of_the_usual_shape_is_passed_on(stack: Stack, profile: str) -> None:
    code = {"oa": "unknown_parameter", "an": "invalid_request_error", "ge": "INVALID_ARGUMENT"}
    assert client_error(stack, profile, code[profile])["code"] == code[profile]
