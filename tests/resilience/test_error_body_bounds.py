"""An upstream error whose body trickles in (a byte every half second of an HTML error
page) is read for no longer than the attempt's and the call's limits allow: each chunk's
read had the bound, the whole read had none, so one such vendor held a call for as long
as it kept trickling. Found by a fault probe."""

from __future__ import annotations

import socket
import time

import openai
import pytest

from tests.fakes import OpenAIFake
from tests.resilience.gateway_thread import GatewayThread
from tests.resilience.scripted_upstream import ScriptedUpstream, chunk
from tests.resilience.topology import KEYS, openai_pair

TRICKLE_S = 20.0


def trickling_503(conn: socket.socket, request: bytes) -> None:
    conn.sendall(
        b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/html\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
    )
    end = time.monotonic() + TRICKLE_S
    while time.monotonic() < end:
        conn.sendall(chunk(b"<"))
        time.sleep(0.5)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_trickling_error_body_is_bounded_and_the_backup_serves(stream: bool) -> None:
    with ScriptedUpstream(trickling_503) as upstream, OpenAIFake() as backup:
        backup.reply_text = "from the backup"
        document = openai_pair(
            upstream.base_url,
            backup.base_url,
            primary={"timeout_s": 2.0, "first_token_timeout_s": 2.0},
            fallback={"request_deadline_s": 6.0, "max_retries": 0},
        )
        with GatewayThread(document, KEYS) as gateway:
            client = openai.OpenAI(base_url=gateway.base_url, api_key="x", max_retries=0)
            messages = [{"role": "user", "content": "hi"}]
            started = time.monotonic()
            if stream:
                chunks = client.chat.completions.create(
                    model="main", messages=messages, stream=True
                )
                text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            else:
                completion = client.chat.completions.create(model="main", messages=messages)
                text = completion.choices[0].message.content or ""
            elapsed = time.monotonic() - started
    assert text == "from the backup"
    # The primary's attempt may take its 2 s; the trickle would have lasted 20.
    assert elapsed < 5.0, elapsed
