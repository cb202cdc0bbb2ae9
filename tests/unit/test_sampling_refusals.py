"""What a model refuses of the sampling settings, as learned from its vendor's 400s."""

from __future__ import annotations

import orjson
import pytest

from switchpoint.config.schema import ProviderConfig
from switchpoint.providers.anthropic import AnthropicAdapter
from switchpoint.providers.errors import ProviderError
from switchpoint.providers.openai import OpenAIAdapter
from switchpoint.providers.sampling_refusals import SamplingRefusals, refused_sampling_setting
from switchpoint.transport.http_client import HttpClient


def refusal(
    setting: str | None, *, status: int = 400, alongside: str | None = None
) -> ProviderError:
    return ProviderError(
        "unsupported",
        "refused",
        status=status,
        refused_setting=setting,
        refused_alongside=alongside,
    )


def test_only_a_400_naming_a_sampling_setting_counts() -> None:
    assert refused_sampling_setting(refusal("temperature")) == "temperature"
    assert refused_sampling_setting(refusal("top_k")) == "top_k"
    # What shapes the answer is never dropped.
    assert refused_sampling_setting(refusal("logprobs")) is None
    assert refused_sampling_setting(refusal("stop")) is None
    # Another status, or no setting named: not a refusal of a setting.
    assert refused_sampling_setting(refusal("temperature", status=422)) is None
    assert refused_sampling_setting(refusal(None)) is None


def test_learned_settings_are_dropped_for_that_model_only() -> None:
    refusals = SamplingRefusals()
    assert not refusals.seen
    assert refusals.learn("openai", "gpt-5", refusal("top_p"))
    assert refusals.learn("openai", "gpt-5", refusal("temperature"))
    assert refusals.seen
    # Learning it again (a request in flight meanwhile) still allows a resend.
    assert refusals.learn("openai", "gpt-5", refusal("temperature"))
    assert not refusals.learn("openai", "gpt-5", refusal("logprobs"))

    body = {"model": "gpt-5", "temperature": 0.2, "top_p": 0.9, "seed": 7}
    assert refusals.drop("gpt-5", body) == ("temperature", "top_p")
    assert body == {"model": "gpt-5", "seed": 7}

    other = {"model": "gpt-4.1", "temperature": 0.2}
    assert refusals.drop("gpt-4.1", other) == ()
    assert other["temperature"] == 0.2
    # Nothing to drop that was not sent.
    assert refusals.drop("gpt-5", {"model": "gpt-5"}) == ()


def test_a_setting_refused_alongside_another_is_dropped_only_beside_it() -> None:
    refusals = SamplingRefusals()
    assert refusals.learn("anthropic", "claude", refusal("top_p", alongside="temperature"))
    both = {"temperature": 0.3, "top_p": 0.9}
    assert refusals.drop("claude", both) == ("top_p",)
    assert both == {"temperature": 0.3}
    alone = {"top_p": 0.9}
    assert refusals.drop("claude", alone) == ()
    assert alone == {"top_p": 0.9}


def openai_refusal(param: str, code: str) -> bytes:
    error = {"message": "no", "type": "invalid_request_error", "param": param, "code": code}
    return orjson.dumps({"error": error})


def test_openai_names_the_setting_in_param() -> None:
    adapter = OpenAIAdapter(
        "openai", ProviderConfig(type="openai"), {}, client=HttpClient(), api_key="sk-x"
    )
    error = adapter.classify_error(400, openai_refusal("temperature", "unsupported_value"), {})
    # This model cannot take it; another target may (after the resends without it).
    assert error.kind == "unsupported" and error.refused_setting == "temperature"
    assert refused_sampling_setting(error) == "temperature"
    stop = adapter.classify_error(400, openai_refusal("stop", "unsupported_parameter"), {})
    assert stop.kind == "unsupported" and refused_sampling_setting(stop) is None
    # A 400 naming a field for another reason is the client's.
    empty = adapter.classify_error(400, openai_refusal("messages", "empty_array"), {})
    assert empty.kind == "bad_request" and empty.refused_setting is None
    assert adapter.classify_error(400, b"not json", {}).refused_setting is None


@pytest.mark.parametrize(
    ("message", "setting", "alongside"),
    [
        ("'temperature' is deprecated for this model.", "temperature", None),
        ("`top_k` is deprecated for this model.", "top_k", None),
        (
            "`temperature` and `top_p` cannot both be specified for this model. "
            "Please use only one.",
            "top_p",
            "temperature",
        ),
        ("messages: at least one message is required", None, None),
    ],
)
def test_anthropic_says_it_in_the_message(
    message: str, setting: str | None, alongside: str | None
) -> None:
    adapter = AnthropicAdapter(
        "anthropic", ProviderConfig(type="anthropic"), {}, client=HttpClient(), api_key="sk-x"
    )
    body = orjson.dumps(
        {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
    )
    error = adapter.classify_error(400, body, {})
    assert error.refused_setting == setting
    assert error.refused_alongside == alongside
    assert error.kind == ("unsupported" if setting else "bad_request")
