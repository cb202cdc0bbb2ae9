"""What the headers and the access log say about fallbacks, against what happened:
one reason per move to a next target, none for the last target's failure (no move
followed it)."""

from __future__ import annotations

import openai
import pytest

from tests.fakes import OpenAIFake, ServerError, ServiceUnavailable
from tests.resilience.gateway_thread import GatewayThread
from tests.resilience.topology import KEYS, openai_pair

USER = [{"role": "user", "content": "hello"}]
Pair = tuple[OpenAIFake, OpenAIFake]


@pytest.mark.parametrize("stream", [False, True])
def test_every_target_failing_gives_one_reason_per_move(pair: Pair, stream: bool) -> None:
    primary, backup = pair
    primary.set_mode(ServerError())
    backup.set_mode(ServiceUnavailable())
    document = openai_pair(primary.base_url, backup.base_url, fallback={"max_retries": 1})
    with GatewayThread(document, KEYS) as gw:
        api = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
        with pytest.raises(openai.APIStatusError) as caught:
            api.chat.completions.create(model="main", messages=USER, stream=stream)
        (call,) = gw.recorder.calls
    headers = caught.value.response.headers
    assert headers["x-switchpoint-attempts"] == "4"
    assert headers["x-switchpoint-retries"] == "2"
    assert headers["x-switchpoint-fallbacks"] == "1"
    assert headers["x-switchpoint-fallback-reasons"] == "server_error"
    assert call.fallback_reasons == ["server_error"]
    assert gw.recorder.count("fallback") == 1


def test_a_last_target_skipped_for_its_breaker_is_no_further_move(pair: Pair) -> None:
    primary, backup = pair
    fallback = {
        "max_retries": 0,
        "circuit_breaker_threshold": 0.5,
        "circuit_breaker": {"window_s": 10, "min_requests": 1, "open_s": 30},
    }
    document = openai_pair(primary.base_url, backup.base_url, fallback=fallback)
    with GatewayThread(document, KEYS) as gw:
        api = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
        backup.enqueue(ServerError())
        primary.enqueue(ServerError())
        with pytest.raises(openai.APIStatusError):
            api.chat.completions.create(model="main", messages=USER)  # opens both
        primary.reset_faults()
        with pytest.raises(openai.APIStatusError) as caught:
            api.chat.completions.create(model="main", messages=USER)  # all open
    headers = caught.value.response.headers
    assert caught.value.status_code == 503
    assert headers["x-switchpoint-fallbacks"] == "1"
    assert headers["x-switchpoint-fallback-reasons"] == "breaker_open"
