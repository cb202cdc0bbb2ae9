"""The request id is where each vendor's SDK reads it: Anthropic's `request-id` (the
SDK's `message._request_id`, `APIStatusError.request_id`) and OpenAI's `x-request-id`
(`completion._request_id`, `APIStatusError.request_id`), for answers and errors alike;
it is switchpoint's own, as in `x-switchpoint-request-id`. Found by a wire-format probe."""

from __future__ import annotations

import anthropic
import openai
import pytest

from tests.e2e.conftest import Stack
from tests.fakes import ServerError

QUESTION = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("profile", ["oa", "an", "ge"])
def test_the_anthropic_sdk_reads_the_request_id(stack: Stack, profile: str) -> None:
    raw = stack.anthropic().messages.with_raw_response.create(
        model=profile, max_tokens=50, messages=QUESTION
    )
    assert raw.parse()._request_id == raw.headers["x-switchpoint-request-id"]
    assert "x-request-id" not in raw.headers  # OpenAI's name, not Anthropic's


def test_an_anthropic_sdk_error_carries_the_request_id(stack: Stack) -> None:
    stack.openai_fake.enqueue(ServerError())
    with pytest.raises(anthropic.APIStatusError) as caught:
        stack.anthropic().messages.create(model="oa", max_tokens=50, messages=QUESTION)
    assert caught.value.request_id == caught.value.response.headers["x-switchpoint-request-id"]


@pytest.mark.parametrize("profile", ["oa", "an", "ge"])
def test_the_openai_sdk_reads_the_request_id(stack: Stack, profile: str) -> None:
    raw = stack.openai().chat.completions.with_raw_response.create(model=profile, messages=QUESTION)
    assert raw.parse()._request_id == raw.headers["x-switchpoint-request-id"]
    assert "request-id" not in raw.headers
    responses = stack.openai().responses.with_raw_response.create(model=profile, input="hi")
    assert responses.parse()._request_id == responses.headers["x-switchpoint-request-id"]


def test_an_openai_sdk_error_carries_the_request_id(stack: Stack) -> None:
    stack.anthropic_fake.enqueue(ServerError())
    with pytest.raises(openai.APIStatusError) as caught:
        stack.openai().chat.completions.create(model="an", messages=QUESTION)
    assert caught.value.request_id == caught.value.response.headers["x-switchpoint-request-id"]


def test_a_stream_head_carries_the_request_id(stack: Stack) -> None:
    with stack.openai().chat.completions.with_streaming_response.create(
        model="an", messages=QUESTION, stream=True
    ) as raw:
        assert raw.headers["x-request-id"] == raw.headers["x-switchpoint-request-id"]
