"""A request the first target refuses as too long, whose larger target is only skipped
for its open breaker: the client is told to come back (503, Retry-After), not that its
request is too long for every model (a 400 that has an agent cut its conversation)."""

from __future__ import annotations

import openai
import pytest

from tests.fakes import ContextLengthExceeded, OpenAIFake, ServerError
from tests.resilience.gateway_thread import GatewayThread
from tests.resilience.topology import KEYS, openai_pair

USER = [{"role": "user", "content": "hello"}]
Pair = tuple[OpenAIFake, OpenAIFake]
FALLBACK = {
    "max_retries": 0,
    "circuit_breaker_threshold": 0.5,
    "circuit_breaker": {"window_s": 10, "min_requests": 1, "open_s": 30},
}


@pytest.mark.parametrize("stream", [False, True])
def test_a_larger_target_skipped_for_its_breaker_is_a_503_to_retry(
    pair: Pair, stream: bool
) -> None:
    primary, backup = pair
    document = openai_pair(primary.base_url, backup.base_url, fallback=FALLBACK)
    with GatewayThread(document, KEYS) as gw:
        api = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
        backup.enqueue(ServerError())
        with pytest.raises(openai.APIStatusError):
            api.chat.completions.create(model="backup", messages=USER)  # opens backup's
        primary.enqueue(ContextLengthExceeded())
        with pytest.raises(openai.APIStatusError) as caught:
            api.chat.completions.create(model="main", messages=USER, stream=stream)
    error = caught.value
    assert error.status_code == 503
    assert 25 <= int(error.response.headers["retry-after"]) <= 30
    assert "circuit breaker" in error.message
    assert "context length" in error.message  # why the first target could not
    assert (primary.request_count(), backup.request_count()) == (1, 1)


def test_without_a_larger_target_the_context_error_is_the_clients(pair: Pair) -> None:
    primary, backup = pair
    document = openai_pair(primary.base_url, backup.base_url, fallback=FALLBACK)
    with GatewayThread(document, KEYS) as gw:
        api = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
        backup.enqueue(ContextLengthExceeded())
        with pytest.raises(openai.BadRequestError) as caught:
            api.chat.completions.create(model="backup", messages=USER)
    assert caught.value.code == "context_length_exceeded"
