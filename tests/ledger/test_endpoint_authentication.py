"""With a master key set, every endpoint that takes a request body needs a credential:
`POST /v1/route` (which says how calls are routed) and `POST /v1/messages/count_tokens`
(tokenizer work up to the body limit) answered anyone who could reach the port. Found by
a security probe."""

from __future__ import annotations

import httpx2
import pytest

from tests.fakes import OpenAIFake
from tests.ledger.gateway_setup import MASTER_KEY, create_key, gateway_config, serving

BODY = {"model": "auto", "max_tokens": 10, "messages": [{"role": "user", "content": "hello"}]}
ENDPOINTS = [
    ("/v1/route", {}),
    ("/v1/messages/count_tokens", {"anthropic-version": "2023-06-01"}),
]


@pytest.mark.parametrize(("path", "extra"), ENDPOINTS)
def test_route_and_count_tokens_need_a_credential(
    sqlite_url: str, openai_fake: OpenAIFake, path: str, extra: dict[str, str]
) -> None:
    with serving(
        gateway_config(openai_fake, sqlite_url), openai_fake, master_key=MASTER_KEY
    ) as server:
        url = f"{server.base_url}{path}"
        for credential in (None, "sk-not-a-real-key", "sk-sp-0123456789ab-nope"):
            headers = dict(extra)
            if credential is not None:
                headers["Authorization"] = f"Bearer {credential}"
            refused = httpx2.post(url, json=BODY, headers=headers, timeout=30)
            assert refused.status_code == 401, (credential, refused.text)
        # The master key (as an Anthropic SDK sends it, too) and a virtual key pass.
        for auth in ({"Authorization": f"Bearer {MASTER_KEY}"}, {"x-api-key": MASTER_KEY}):
            served = httpx2.post(url, json=BODY, headers={**extra, **auth}, timeout=30)
            assert served.status_code == 200, served.text
        key = create_key(server.base_url, team="t")["key"]
        served = httpx2.post(
            url, json=BODY, headers={**extra, "Authorization": f"Bearer {key}"}, timeout=30
        )
        assert served.status_code == 200, served.text


@pytest.mark.parametrize("path", ["/v1/models", "/v1/models/gpt-5.5", "/v1/models/nope"])
def test_the_models_endpoints_need_a_credential(
    sqlite_url: str, openai_fake: OpenAIFake, path: str
) -> None:
    """They name the profiles and the models behind them: with a master key set, for
    callers only, as OpenAI's own are; refused in the shape of the SDK asking."""
    with serving(
        gateway_config(openai_fake, sqlite_url), openai_fake, master_key=MASTER_KEY
    ) as server:
        url = f"{server.base_url}{path}"
        anthropic = {"anthropic-version": "2023-06-01"}
        for credential in (None, "sk-not-a-real-key", "sk-sp-0123456789ab-nope"):
            auth = {} if credential is None else {"Authorization": f"Bearer {credential}"}
            refused = httpx2.get(url, headers=auth, timeout=30)
            assert refused.status_code == 401, (credential, refused.text)
            assert refused.json()["error"]["type"] == "authentication_error"
            refused = httpx2.get(url, headers={**anthropic, **auth}, timeout=30)
            assert refused.status_code == 401, (credential, refused.text)
            assert refused.json()["type"] == "error"
            assert refused.json()["error"]["type"] == "authentication_error"
        expected = 404 if path.endswith("nope") else 200
        key = create_key(server.base_url, team="t")["key"]
        for auth in (
            {"Authorization": f"Bearer {MASTER_KEY}"},
            {**anthropic, "x-api-key": MASTER_KEY},
            {"Authorization": f"Bearer {key}"},
            {**anthropic, "x-api-key": key},
        ):
            served = httpx2.get(url, headers=auth, timeout=30)
            assert served.status_code == expected, (auth, served.text)
