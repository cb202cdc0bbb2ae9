"""A Responses-API model's answer that is valid JSON of the wrong shape (`content: 1`, a
`null` summary text) is a malformed answer, as any other vendor's: it escaped the decoder
as a TypeError, and the client got a 500 instead of a 502 (or the chain's next model).
Found by a fault probe."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from switchpoint.protocols.openai.response import MalformedResponse
from switchpoint.protocols.openai_responses.response import decode_response
from tests.e2e.conftest import Stack, StackFactory, add_responses_profile
from tests.fakes import RawResponse

MESSAGE = {"type": "message", "id": "m", "role": "assistant", "status": "completed"}
MALFORMED = {
    "content-a-number": {**MESSAGE, "content": 1},
    "text-null-in-a-summary": {"type": "reasoning", "id": "r", "summary": [{"text": None}]},
}


def answer(item: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "id": "resp_1",
            "object": "response",
            "status": "completed",
            "model": "gpt-rs-test",
            "output": [item],
            "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
        }
    ).encode()


@pytest.mark.parametrize("shape", MALFORMED)
def test_the_decoder_calls_it_malformed(shape: str) -> None:
    with pytest.raises(MalformedResponse, match="unexpected shape"):
        decode_response(answer(MALFORMED[shape]))


def test_a_part_that_is_not_text_is_skipped_as_before() -> None:
    part = {"type": "output_text", "text": ["x"]}
    assert decode_response(answer({**MESSAGE, "content": [part]})).content == []


@pytest.fixture
def rstack(make_stack: StackFactory) -> Stack:
    def add_rs(document: dict[str, Any]) -> None:
        add_responses_profile(document, "rs", "gpt-rs-test")

    return make_stack(edit=add_rs)


def test_the_client_gets_a_bad_gateway_not_an_internal_error(rstack: Stack) -> None:
    rstack.openai_fake.enqueue(
        RawResponse(
            status=200, body=answer(MALFORMED["content-a-number"]), content_type="application/json"
        )
    )
    with pytest.raises(openai.APIStatusError) as caught:
        rstack.openai().chat.completions.create(
            model="rs", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.status_code == 502
    assert "unexpected shape" in caught.value.message
