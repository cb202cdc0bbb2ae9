"""`GET /v1/models/{id}`: every id the list gives is retrieved by each official SDK, in
its own shape (OpenAI's `Model`, Anthropic's `ModelInfo`); an unknown id is each
protocol's 404. It answered 404 for every id: only the list was served."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from tests.e2e.conftest import HTTP, Stack, StackFactory

# A model id with a slash, as OpenAI-compatible servers name theirs.
SLASHED = "meta-llama/Llama-3.3-70B-Instruct"


def with_slashed_model(document: dict[str, Any]) -> None:
    document["routing"]["profiles"]["llama"] = {
        "model": SLASHED,
        "provider": "openai",
        "max_context": 100_000,
        "cost_weight": 0.5,
    }


@pytest.fixture
def models_stack(make_stack: StackFactory) -> Stack:
    return make_stack(edit=with_slashed_model)


def test_the_openai_sdk_retrieves_every_listed_model(models_stack: Stack) -> None:
    client = models_stack.openai()
    listed = {model.id: model for model in client.models.list()}
    assert set(listed) == {"oa", "an", "ge", "llama", "auto", "gpt-test", "claude-test",
                           "gemini-3-test", SLASHED}  # fmt: skip
    for ident, model in listed.items():
        retrieved = client.models.retrieve(ident)
        assert retrieved == model, ident
    assert client.models.retrieve("an").owned_by == "anthropic"
    assert client.models.retrieve(SLASHED).owned_by == "openai"
    assert client.models.retrieve("auto").owned_by == "switchpoint"


def test_the_anthropic_sdk_retrieves_every_listed_model(models_stack: Stack) -> None:
    client = models_stack.anthropic()
    listed = {model.id: model for model in client.models.list()}
    assert "auto" in listed and SLASHED in listed and "claude-test" in listed
    for ident, model in listed.items():
        retrieved = client.models.retrieve(ident)
        assert retrieved == model, ident
        assert retrieved.type == "model"
        assert retrieved.lifecycle == "active"
    assert client.models.retrieve("ge").display_name == "workload profile -> gemini-3-test"


def test_a_model_id_with_an_unencoded_slash_is_found(models_stack: Stack) -> None:
    # The SDKs send `%2F`; curl and older clients send the slash itself.
    answer = HTTP.get(f"{models_stack.base_url}/v1/models/{SLASHED}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == SLASHED
    assert answer.json()["object"] == "model"
    nested = HTTP.get(f"{models_stack.base_url}/v1/models/{SLASHED}/more")
    assert nested.status_code == 404


def test_an_unknown_model_is_each_protocols_404(stack: Stack) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        stack.openai().models.retrieve("gpt-unknown")
    error = missing.value.response.json()["error"]
    assert error["code"] == "model_not_found"
    assert error["param"] == "model"
    assert "gpt-unknown" in error["message"]

    with pytest.raises(anthropic.NotFoundError) as absent:
        stack.anthropic().models.retrieve("claude-unknown")
    body = absent.value.response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "not_found_error"
    assert "claude-unknown" in body["error"]["message"]
