"""Gemini error bodies whose details are not of the shape Google documents: read for
what they hold, never a gateway failure (a 500) that stops the chain."""

from __future__ import annotations

from typing import Any

import openai
import orjson
import pytest

from tests.fakes import AnthropicFake, GeminiFake, OpenAIFake, RawResponse
from tests.resilience.gateway_thread import GatewayThread
from tests.resilience.test_vendors import KEYS, Fakes, document

QUOTA = "type.googleapis.com/google.rpc.QuotaFailure"


@pytest.mark.parametrize("violations", [5, 1.5, True, {"quotaId": "PerDay"}, "PerDay"])
def test_a_quota_failure_without_a_list_of_violations_is_a_rate_limit(violations: Any) -> None:
    body = {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": QUOTA, "violations": violations}],
        }
    }
    with AnthropicFake() as claude, GeminiFake() as gemini, OpenAIFake() as gpt:
        gemini.set_mode(RawResponse(status=429, body=orjson.dumps(body)))
        with GatewayThread(document(Fakes(claude, gemini, gpt)), KEYS) as gw:
            api = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
            with pytest.raises(openai.RateLimitError) as caught:
                api.chat.completions.create(
                    model="gemini", messages=[{"role": "user", "content": "hi"}]
                )
            (call,) = gw.recorder.calls
    # Google's 429, retried as one (the gemini profile has no fallback), not a 500.
    assert caught.value.status_code == 429
    assert caught.value.response.headers["x-switchpoint-retries"] == "2"
    assert {a.outcome for a in call.attempts} == {"rate_limited"}
