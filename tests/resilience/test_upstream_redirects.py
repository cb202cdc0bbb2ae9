"""An upstream that redirects instead of answering (a base URL that moved, an edge
that sends http to https): a fault of that provider, failed over, never passed on."""

from __future__ import annotations

import openai
import pytest

from tests.fakes import OpenAIFake, RawResponse
from tests.resilience.gateway_thread import GatewayThread
from tests.resilience.topology import KEYS, openai_pair

USER = [{"role": "user", "content": "hello"}]
Pair = tuple[OpenAIFake, OpenAIFake]


def redirect(status: int) -> RawResponse:
    return RawResponse(
        status=status,
        body=b"<html>Moved</html>" if status != 304 else b"",
        content_type="text/html",
        headers=(("location", "https://elsewhere.example/v1/chat/completions"),),
    )


@pytest.mark.parametrize("status", [301, 302, 307, 308, 304])
@pytest.mark.parametrize("stream", [False, True])
def test_a_redirect_fails_over_to_the_next_target(pair: Pair, status: int, stream: bool) -> None:
    primary, backup = pair
    primary.set_mode(redirect(status))
    document = openai_pair(primary.base_url, backup.base_url, fallback={"max_retries": 0})
    with GatewayThread(document, KEYS) as gw:
        api = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
        if stream:
            with api.chat.completions.with_streaming_response.create(
                model="main", messages=USER, stream=True
            ) as response:
                headers = response.headers
                text = "".join(
                    c.choices[0].delta.content or "" for c in response.parse() if c.choices
                )
        else:
            raw = api.chat.completions.with_raw_response.create(model="main", messages=USER)
            headers = raw.headers
            text = raw.parse().choices[0].message.content or ""
    assert text == "Hello from gpt-b."
    assert headers["x-switchpoint-provider"] == "backup"
    assert headers["x-switchpoint-fallback-reasons"] == "invalid_response"
    assert (primary.request_count(), backup.request_count()) == (1, 1)


def test_every_target_redirecting_is_a_bad_gateway_saying_so(pair: Pair) -> None:
    primary, backup = pair
    primary.set_mode(redirect(301))
    backup.set_mode(redirect(302))
    document = openai_pair(primary.base_url, backup.base_url, fallback={"max_retries": 0})
    with GatewayThread(document, KEYS) as gw:
        api = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
        with pytest.raises(openai.APIStatusError) as caught:
            api.chat.completions.create(model="main", messages=USER)
        assert gw.gateway is not None
        breakers = gw.gateway.executor.breakers
        # A provider fault: its breaker counts it (a client's 400 would not).
        assert breakers.store.breakers[("primary", "gpt-a")].window.fail == 1
    assert caught.value.status_code == 502
    assert "redirect" in caught.value.message
    assert "location" not in caught.value.response.headers
