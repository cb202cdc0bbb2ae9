"""Gemini's function calls kept in Redis (`call_memory: {type: redis}`): a replay that
reaches another worker, instance or a restarted gateway goes back to Gemini with the
call's thought signature and id, as it came; with Redis down it still goes out."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest
import redis

from tests.e2e.conftest import Stack, StackFactory
from tests.e2e.test_tools import (
    OPENAI_TOOLS,
    QUESTION,
    RESULT,
    WEATHER,
    ask_gemini_for_a_call,
    gemini_call_with_signature,
)
from tests.fakes import RawResponse
from tests.fakes.fixtures import refused_port
from tests.redis_fixtures import REDIS_URL, redis_prefix

__all__ = ["redis_prefix", "refused_port"]

SIGNATURE = "c2lnbmF0dXJlLWtlcHQtaW4tcmVkaXM="
CALL_ID = "fc_from_gemini_1"
PLACEHOLDER = "skip_thought_signature_validator"


def with_call_memory(memory: dict[str, Any]) -> Any:
    """A `make_stack` edit: the Gemini provider keeps its calls in `memory`."""

    def edit(document: dict[str, Any]) -> None:
        document["providers"]["google"]["call_memory"] = memory

    return edit


def ask_for_a_call(stack: Stack, stream: bool) -> str:
    stack.gemini_fake.enqueue(gemini_call_with_signature(stream, SIGNATURE, CALL_ID))
    return ask_gemini_for_a_call(stack, stream)


def replay(stack: Stack, call_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The next turn through `stack`: the call and the part holding its result, as Gemini
    received them."""
    call = {
        "id": call_id,
        "type": "function",
        "function": {"name": "get_weather", "arguments": json.dumps(WEATHER)},
    }
    stack.openai().chat.completions.create(
        model="ge",
        messages=[
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call_id, "content": RESULT},
        ],
        tools=OPENAI_TOOLS,
    )
    model_turn, results_turn = stack.gemini_fake.last_request.body["contents"][1:3]
    return model_turn["parts"][0], results_turn["parts"][0]


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
def test_a_replay_on_another_gateway_gets_geminis_signature_and_id_back(
    make_stack: StackFactory, redis_prefix: str, stream: bool
) -> None:
    memory = {"type": "redis", "url": REDIS_URL, "key_prefix": redis_prefix}
    first = make_stack(edit=with_call_memory(memory))
    second = make_stack(edit=with_call_memory(memory))
    call_id = ask_for_a_call(first, stream)
    assert call_id == CALL_ID
    # Kept before the answer ended: the client could replay it at once.
    assert list(redis.Redis.from_url(REDIS_URL).scan_iter(f"{redis_prefix}:google:*")) == [
        f"{redis_prefix}:google:{CALL_ID}".encode()
    ]
    call_part, result_part = replay(second, call_id)
    assert call_part["thoughtSignature"] == SIGNATURE
    assert call_part["functionCall"]["id"] == CALL_ID
    assert result_part["functionResponse"]["id"] == CALL_ID


def test_without_shared_memory_another_gateway_sends_googles_placeholder(
    make_stack: StackFactory,
) -> None:
    """What the shared memory is for: each process knows only the calls it relayed."""
    first = make_stack()
    second = make_stack()
    call_id = ask_for_a_call(first, stream=False)
    call_part, result_part = replay(second, call_id)
    assert call_part["thoughtSignature"] == PLACEHOLDER
    assert "id" not in call_part["functionCall"]
    assert "id" not in result_part["functionResponse"]
    # The gateway that relayed the call still sends it back as it came.
    call_part, _ = replay(first, call_id)
    assert call_part["thoughtSignature"] == SIGNATURE


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
def test_with_redis_down_calls_still_go_out_promptly(
    make_stack: StackFactory, refused_port: int, stream: bool
) -> None:
    memory = {"type": "redis", "url": f"redis://127.0.0.1:{refused_port}/0"}
    first = make_stack(edit=with_call_memory(memory))
    second = make_stack(edit=with_call_memory(memory))
    started = time.monotonic()
    call_id = ask_for_a_call(first, stream)
    call_part, _ = replay(second, call_id)
    assert time.monotonic() - started < 5
    assert call_part["thoughtSignature"] == PLACEHOLDER
    # This process's own memory still serves its own calls.
    call_part, _ = replay(first, call_id)
    assert call_part["thoughtSignature"] == SIGNATURE


def test_a_stream_cut_after_its_call_still_leaves_the_call_known_here(stack: Stack) -> None:
    """No `Finish`, so nothing was written ahead of the answer's end: the worker that
    relayed the call still remembers it when the stream closes."""
    cut = json.loads(gemini_call_with_signature(True, SIGNATURE, CALL_ID).body[len(b"data: ") :])
    del cut["candidates"][0]["finishReason"]
    body = f"data: {json.dumps(cut)}\r\n\r\n".encode()
    stack.gemini_fake.enqueue(RawResponse(status=200, body=body, content_type="text/event-stream"))
    seen: list[str] = []
    with pytest.raises(openai.APIError):
        for chunk in stack.openai().chat.completions.create(
            model="ge",
            messages=[{"role": "user", "content": QUESTION}],
            tools=OPENAI_TOOLS,
            stream=True,
        ):
            seen += [tc.id for c in chunk.choices for tc in c.delta.tool_calls or () if tc.id]
    assert seen == [CALL_ID]
    call_part, _ = replay(stack, CALL_ID)
    assert call_part["thoughtSignature"] == SIGNATURE
