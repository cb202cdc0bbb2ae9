"""A pooled keep-alive connection that the vendor closes after reading the request (an
edge proxy's idle timeout while a whole answer is generated, say) is not taken for a
stale one: the request is not sent again on a new connection, silently, with a fresh
timeout. It was: the vendor got (and billed) it twice, past the attempt's and the call's
limits. A connection that fails at once still is replaced. Found by a fault probe."""

from __future__ import annotations

import json
import socket
import threading
import time

import openai

from tests.fakes import OpenAIFake
from tests.resilience.gateway_thread import GatewayThread
from tests.resilience.scripted_upstream import ScriptedUpstream, read_request
from tests.resilience.topology import KEYS, openai_pair

ANSWER = json.dumps(
    {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-a",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "first"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
).encode()
WHOLE = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%b" % (
    len(ANSWER),
    ANSWER,
)


class HoldThenClose:
    """The first connection answers its first request, then reads the next one, holds
    it, and closes without a byte (`hold_s`, or at once with 0); later connections
    answer at once."""

    def __init__(self, hold_s: float) -> None:
        self.hold_s = hold_s
        self.connections = 0
        self._lock = threading.Lock()

    def __call__(self, conn: socket.socket, request: bytes) -> None:
        with self._lock:
            self.connections += 1
            first = self.connections == 1
        conn.sendall(WHOLE)
        if first and read_request(conn) is not None:
            time.sleep(self.hold_s)


def two_calls(hold_s: float) -> tuple[str, float, int]:
    upstream_script = HoldThenClose(hold_s)
    with ScriptedUpstream(upstream_script) as upstream, OpenAIFake() as backup:
        backup.reply_text = "from the backup"
        document = openai_pair(
            upstream.base_url,
            backup.base_url,
            primary={"timeout_s": 3.0},
            fallback={"request_deadline_s": 3.5, "max_retries": 0},
        )
        with GatewayThread(document, KEYS) as gateway:
            client = openai.OpenAI(base_url=gateway.base_url, api_key="x", max_retries=0)
            messages = [{"role": "user", "content": "hi"}]
            first = client.chat.completions.create(model="main", messages=messages)
            assert first.choices[0].message.content == "first"
            started = time.monotonic()
            second = client.chat.completions.create(model="main", messages=messages)
            elapsed = time.monotonic() - started
    return second.choices[0].message.content or "", elapsed, upstream_script.connections


def test_a_request_the_vendor_held_then_dropped_is_not_sent_again() -> None:
    text, elapsed, connections = two_calls(hold_s=2.0)
    assert connections == 1  # never sent again on a connection of its own
    assert text == "from the backup"  # the chain's next model served it, in the limits
    assert elapsed < 3.5, elapsed


def test_a_stale_connection_is_still_replaced_at_once() -> None:
    text, _, connections = two_calls(hold_s=0.0)
    assert (text, connections) == ("first", 2)
