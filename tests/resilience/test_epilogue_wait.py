"""Once the vendor has said why the answer stopped, only its epilogue is awaited, and
briefly (`AFTER_FINISH_WAIT_S`, `AFTER_USAGE_WAIT_S`): keep-alive pings after it
restarted that wait at every batch, so a vendor that pinged on instead of ending the
stream held a finished answer to the attempt's whole limit. Found by a fault probe."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import openai

from tests.fakes import OpenAIFake
from tests.resilience.gateway_thread import GatewayThread
from tests.resilience.scripted_upstream import ScriptedUpstream, chunk
from tests.resilience.topology import KEYS, openai_pair

PINGING_S = 30.0


def event(kind: str, payload: dict[str, Any]) -> bytes:
    return chunk(f"event: {kind}\ndata: {json.dumps({'type': kind, **payload})}\n\n".encode())


def finished_then_pings(conn: socket.socket, request: bytes) -> None:
    conn.sendall(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "gpt-a",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 1},
    }
    text = {"type": "text_delta", "text": "Hello there."}
    stop = {"stop_reason": "end_turn", "stop_sequence": None}
    conn.sendall(
        event("message_start", {"message": message})
        + event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        + event("content_block_delta", {"index": 0, "delta": text})
        + event("content_block_stop", {"index": 0})
        + event("message_delta", {"delta": stop, "usage": {"output_tokens": 3}})
    )
    # No `message_stop`: keep-alive pings instead, for longer than the test may take.
    end = time.monotonic() + PINGING_S
    while time.monotonic() < end:
        time.sleep(0.2)
        conn.sendall(event("ping", {}))


def test_pings_after_the_stop_reason_do_not_hold_the_answer() -> None:
    with ScriptedUpstream(finished_then_pings) as upstream, OpenAIFake() as backup:
        document = openai_pair(
            upstream.base_url, backup.base_url, primary={"type": "anthropic", "timeout_s": 15.0}
        )
        with GatewayThread(document, KEYS) as gateway:
            client = openai.OpenAI(base_url=gateway.base_url, api_key="x", max_retries=0)
            started = time.monotonic()
            text, finish = "", None
            for piece in client.chat.completions.create(
                model="main", messages=[{"role": "user", "content": "hi"}], stream=True
            ):
                for choice in piece.choices:
                    text += choice.delta.content or ""
                    finish = choice.finish_reason or finish
            elapsed = time.monotonic() - started
    assert (text, finish) == ("Hello there.", "stop")
    # The usage came with the stop reason: 0.25 s of epilogue, not the attempt's 15 s.
    assert elapsed < 5.0, elapsed
