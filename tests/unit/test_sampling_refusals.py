"""What a model refuses of the sampling settings, as learned from its vendor's 400s."""

from __future__ import annotations

import orjson

from switchpoint.config.schema import ProviderConfig
from switchpoint.providers.errors import ProviderError
from switchpoint.providers.openai import OpenAIAdapter
from switchpoint.providers.sampling_refusals import SamplingRefusals, refused_sampling_setting
from switchpoint.transport.http_client import HttpClient


def refusal(
    param: str | None, *, code: str = "unsupported_value", status: int = 400
) -> ProviderError:
    return ProviderError("bad_request", "refused", status=status, vendor_type=code, param=param)


def test_only_a_400_naming_a_sampling_setting_counts() -> None:
    assert refused_sampling_setting(refusal("temperature")) == "temperature"
    assert refused_sampling_setting(refusal("top_p", code="unsupported_parameter")) == "top_p"
    # What shapes the answer is never dropped.
    assert refused_sampling_setting(refusal("logprobs", code="unsupported_parameter")) is None
    assert refused_sampling_setting(refusal("stop", code="unsupported_parameter")) is None
    # Another code, another status, or no field named: not a refusal of a setting.
    assert refused_sampling_setting(refusal("temperature", code="invalid_value")) is None
    assert refused_sampling_setting(refusal("temperature", status=422)) is None
    assert refused_sampling_setting(refusal(None)) is None


def test_learned_settings_are_dropped_for_that_model_only() -> None:
    refusals = SamplingRefusals()
    assert refusals.learn("gpt-5", refusal("top_p", code="unsupported_parameter"))
    assert refusals.learn("gpt-5", refusal("temperature"))
    # Learning it again (a request in flight meanwhile) still allows a resend.
    assert refusals.learn("gpt-5", refusal("temperature"))
    assert not refusals.learn("gpt-5", refusal("logprobs"))

    body = {"model": "gpt-5", "temperature": 0.2, "top_p": 0.9, "seed": 7}
    assert refusals.drop("gpt-5", body) == ("temperature", "top_p")
    assert body == {"model": "gpt-5", "seed": 7}

    other = {"model": "gpt-4.1", "temperature": 0.2}
    assert refusals.drop("gpt-4.1", other) == ()
    assert other["temperature"] == 0.2
    # Nothing to drop that was not sent.
    assert refusals.drop("gpt-5", {"model": "gpt-5"}) == ()


def test_the_error_names_the_field_openai_named() -> None:
    adapter = OpenAIAdapter(
        "openai", ProviderConfig(type="openai"), {}, client=HttpClient(), api_key="sk-x"
    )
    body = orjson.dumps(
        {
            "error": {
                "message": "Unsupported value: 'temperature' does not support 0.2 with this "
                "model. Only the default (1) value is supported.",
                "type": "invalid_request_error",
                "param": "temperature",
                "code": "unsupported_value",
            }
        }
    )
    error = adapter.classify_error(400, body, {})
    # This model cannot take it; another target may (after the resends without it).
    assert error.kind == "unsupported" and error.param == "temperature"
    assert refused_sampling_setting(error) == "temperature"
    assert adapter.classify_error(400, b"not json", {}).param is None
