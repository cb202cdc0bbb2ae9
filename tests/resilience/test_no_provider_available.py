"""A gateway none of whose providers can be called (no API key set for any): every call
is told that no provider is available, a 503, not that its request is too long."""

from __future__ import annotations

import anthropic
import openai
import pytest

from tests.fakes import OpenAIFake
from tests.resilience.gateway_thread import GatewayThread
from tests.resilience.topology import openai_pair

USER = [{"role": "user", "content": "hello"}]
Pair = tuple[OpenAIFake, OpenAIFake]


@pytest.mark.parametrize("model", ["main", "backup", "gpt-b"])
def test_without_any_key_an_openai_client_gets_a_503_saying_why(pair: Pair, model: str) -> None:
    primary, backup = pair
    with GatewayThread(openai_pair(primary.base_url, backup.base_url), {}) as gw:
        api = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
        with pytest.raises(openai.APIStatusError) as caught:
            api.chat.completions.create(model=model, messages=USER)
    assert caught.value.status_code == 503
    assert "context" not in caught.value.message
    assert "unavailable" in caught.value.message
    assert (primary.request_count(), backup.request_count()) == (0, 0)


def test_without_any_key_an_anthropic_client_gets_a_503(pair: Pair) -> None:
    primary, backup = pair
    with GatewayThread(openai_pair(primary.base_url, backup.base_url), {}) as gw:
        assert gw.server.base_url is not None
        api = anthropic.Anthropic(base_url=gw.server.base_url, api_key="unused", max_retries=0)
        with pytest.raises(anthropic.APIStatusError) as caught:
            api.messages.create(model="main", max_tokens=16, messages=USER)  # type: ignore[arg-type]
    assert caught.value.status_code == 503
    assert "unavailable" in caught.value.message
