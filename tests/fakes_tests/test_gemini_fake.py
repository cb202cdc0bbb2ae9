"""The Gemini fake, driven by Google's official ``google-genai`` SDK (and raw
HTTP where the wire bytes themselves are the point)."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from google import genai
from google.genai import errors, types

from tests.fakes import (
    AcceptThenSilent,
    BadGateway,
    ConnectionReset,
    ContentPolicy,
    ContextLengthExceeded,
    CutAfter,
    GeminiFake,
    InvalidEvent,
    MalformedBody,
    MissingSentinel,
    Overloaded,
    QuotaExhausted,
    RateLimited,
    Refusal,
    ServerError,
    ServiceUnavailable,
    StallAfter,
    StreamErrorEvent,
)

MODEL = "gemini-test"
PROMPT = "What is the weather like"
WEATHER = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(
            name="get_weather",
            parameters=types.Schema(
                type=types.Type.OBJECT, properties={"city": types.Schema(type=types.Type.STRING)}
            ),
        )
    ]
)
NO_AUTO = types.AutomaticFunctionCallingConfig(disable=True)
_HTTP = httpx2.Client()
# Handed to sync-only clients so they skip building an async client of their
# own; it is never used, so it is never bound to any test's event loop.
_UNUSED_ASYNC_HTTP = httpx2.AsyncClient()


def client(fake: GeminiFake, api_version: str = "v1beta", **options: Any) -> genai.Client:
    # Shared HTTP clients spare each test building TLS contexts, which costs
    # far more than a whole exchange with the fake.
    options.setdefault("httpx_async_client", _UNUSED_ASYNC_HTTP)
    http = types.HttpOptions(
        base_url=fake.base_url, api_version=api_version, httpx_client=_HTTP, **options
    )
    return genai.Client(api_key="gemini-fake-key", http_options=http)


# A genai.Client closes its HTTP client when garbage-collected, so every
# helper keeps the client bound to a name for as long as it is used.


def generate(fake: GeminiFake, **kwargs: Any) -> types.GenerateContentResponse:
    api = client(fake)
    contents = kwargs.pop("contents", PROMPT)
    return api.models.generate_content(model=MODEL, contents=contents, **kwargs)


def stream(fake: GeminiFake, **kwargs: Any) -> list[types.GenerateContentResponse]:
    api = client(fake)
    contents = kwargs.pop("contents", PROMPT)
    return list(api.models.generate_content_stream(model=MODEL, contents=contents, **kwargs))


def stream_into(
    fake: GeminiFake, received: list[types.GenerateContentResponse], **options: Any
) -> None:
    """Stream into ``received`` so chunks before a failure stay visible."""
    api = client(fake, **options)
    received.extend(api.models.generate_content_stream(model=MODEL, contents=PROMPT))


def raw(fake: GeminiFake, method: str, body: dict[str, Any], query: str = "") -> httpx2.Response:
    url = f"{fake.base_url}/v1beta/models/{MODEL}:{method}{query}"
    return _HTTP.post(url, json=body, headers={"x-goog-api-key": "gemini-fake-key"})


USER_BODY = {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]}


# ------------------------------------------------------------------ answers


def test_generate_content(gemini_fake: GeminiFake) -> None:
    response = generate(gemini_fake)
    assert response.text == f"Hello from {MODEL}."
    assert response.model_version == MODEL
    assert response.response_id
    candidate = (response.candidates or [])[0]
    assert candidate.finish_reason == types.FinishReason.STOP
    assert candidate.content is not None and candidate.content.role == "model"
    usage = response.usage_metadata
    assert usage is not None
    assert (usage.prompt_token_count, usage.candidates_token_count) == (5, 3)
    assert usage.total_token_count == 8
    record = gemini_fake.last_request
    assert record.path == f"/v1beta/models/{MODEL}:generateContent"
    assert record.auth_header == record.credential == "gemini-fake-key"
    assert record.model == MODEL


def test_v1_api_version_and_system_instruction(gemini_fake: GeminiFake) -> None:
    config = types.GenerateContentConfig(system_instruction="Be brief.")
    api = client(gemini_fake, "v1")
    response = api.models.generate_content(model=MODEL, contents=PROMPT, config=config)
    assert gemini_fake.last_request.path == f"/v1/models/{MODEL}:generateContent"
    assert response.usage_metadata is not None
    assert response.usage_metadata.prompt_token_count == 7


def test_usage_omits_zero_counts_and_reports_cache_and_thoughts(gemini_fake: GeminiFake) -> None:
    plain = raw(gemini_fake, "generateContent", USER_BODY).json()["usageMetadata"]
    assert "cachedContentTokenCount" not in plain and "thoughtsTokenCount" not in plain
    gemini_fake.input_tokens = 1000
    gemini_fake.cached_tokens = 400
    gemini_fake.reasoning_tokens = 50
    gemini_fake.output_tokens = 10
    usage = generate(gemini_fake).usage_metadata
    assert usage is not None
    assert usage.prompt_token_count == 1000
    assert usage.cached_content_token_count == 400
    assert usage.candidates_token_count == 10
    # Thoughts are outside candidatesTokenCount but inside the total.
    assert usage.thoughts_token_count == 50
    assert usage.total_token_count == 1060


def test_stream_sse(gemini_fake: GeminiFake) -> None:
    chunks = stream(gemini_fake)
    assert "".join(c.text or "" for c in chunks) == f"Hello from {MODEL}."
    assert len(chunks) == 4  # three pieces, then the finishing chunk
    assert all((c.candidates or [])[0].finish_reason is None for c in chunks[:-1])
    assert (chunks[-1].candidates or [])[0].finish_reason == types.FinishReason.STOP
    counts = [c.usage_metadata.candidates_token_count if c.usage_metadata else None for c in chunks]
    assert counts[-1] == 3 and counts == sorted(counts, key=lambda n: n or 0)
    assert len({c.response_id for c in chunks}) == 1
    assert gemini_fake.last_request.query == {"alt": "sse"}


def test_sse_wire_uses_crlf_and_has_no_sentinel(gemini_fake: GeminiFake) -> None:
    response = raw(gemini_fake, "streamGenerateContent", USER_BODY, "?alt=sse")
    assert response.headers["content-type"] == "text/event-stream"
    events = response.content.split(b"\r\n\r\n")
    assert events[-1] == b""
    payloads = [json.loads(e.removeprefix(b"data: ")) for e in events[:-1]]
    assert payloads[-1]["candidates"][0]["finishReason"] == "STOP"
    assert b"[DONE]" not in response.content
    gemini_fake.sse_line_ending = "\n"
    again = raw(gemini_fake, "streamGenerateContent", USER_BODY, "?alt=sse")
    assert b"\r\n" not in again.content and again.content.endswith(b"}\n\n")


def test_stream_without_alt_sse_is_a_json_array(gemini_fake: GeminiFake) -> None:
    response = raw(gemini_fake, "streamGenerateContent", USER_BODY)
    assert response.headers["content-type"].startswith("application/json")
    payloads = json.loads(response.content)
    assert isinstance(payloads, list) and len(payloads) == 4
    text = "".join(p["candidates"][0]["content"]["parts"][0]["text"] for p in payloads)
    assert text == f"Hello from {MODEL}."


# google-genai's async client subclasses aiohttp.ClientSession, which aiohttp warns about.
@pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning")
async def test_async_client(gemini_fake: GeminiFake) -> None:
    api = client(gemini_fake, httpx_async_client=None).aio
    response = await api.models.generate_content(model=MODEL, contents=PROMPT)
    pieces = [
        c.text or ""
        async for c in await api.models.generate_content_stream(model=MODEL, contents=PROMPT)
    ]
    await api.aclose()
    assert response.text == "".join(pieces) == f"Hello from {MODEL}."


def test_max_output_tokens(gemini_fake: GeminiFake) -> None:
    gemini_fake.reply_text = "one two three"
    response = generate(gemini_fake, config=types.GenerateContentConfig(max_output_tokens=2))
    assert response.text == "one two"
    assert (response.candidates or [])[0].finish_reason == types.FinishReason.MAX_TOKENS


def test_function_call_whole_in_one_chunk(gemini_fake: GeminiFake) -> None:
    gemini_fake.tool_call = ("get_weather", {"city": "Paris"})
    config = types.GenerateContentConfig(tools=[WEATHER], automatic_function_calling=NO_AUTO)
    response = generate(gemini_fake, config=config)
    [call] = response.function_calls or []
    assert (call.name, call.args) == ("get_weather", {"city": "Paris"})
    # Gemini finishes a function call with plain STOP.
    assert (response.candidates or [])[0].finish_reason == types.FinishReason.STOP
    chunks = stream(gemini_fake, config=config)
    [only] = chunks
    assert only.function_calls and only.function_calls[0].args == {"city": "Paris"}
    assert gemini_fake.last_request.body["tools"][0]["functionDeclarations"][0]["name"] == (
        "get_weather"
    )


def test_function_response_gets_text(gemini_fake: GeminiFake) -> None:
    gemini_fake.tool_call = ("get_weather", {"city": "Paris"})
    contents = [
        types.Content(role="user", parts=[types.Part(text=PROMPT)]),
        types.Content(
            role="model",
            parts=[
                types.Part(
                    function_call=types.FunctionCall(name="get_weather", args={"city": "Paris"})
                )
            ],
        ),
        types.Content(
            role="user",
            parts=[
                types.Part(
                    function_response=types.FunctionResponse(
                        name="get_weather", response={"sky": "clear"}
                    )
                )
            ],
        ),
    ]
    config = types.GenerateContentConfig(tools=[WEATHER], automatic_function_calling=NO_AUTO)
    response = generate(gemini_fake, contents=contents, config=config)
    assert response.function_calls is None
    assert response.text == f"Hello from {MODEL}."


def test_trailing_model_turn_is_continued_or_rejected(gemini_fake: GeminiFake) -> None:
    contents = [
        types.Content(role="user", parts=[types.Part(text=PROMPT)]),
        types.Content(role="model", parts=[types.Part(text="Hello from")]),
    ]
    assert generate(gemini_fake, contents=contents).text == f" {MODEL}."
    gemini_fake.prefill = "reject"
    with pytest.raises(errors.ClientError) as caught:
        generate(gemini_fake, contents=contents)
    assert caught.value.code == 400 and caught.value.status == "INVALID_ARGUMENT"


def test_snake_case_fields_and_key_in_query(gemini_fake: GeminiFake) -> None:
    body = {
        "system_instruction": {"parts": [{"text": "Be brief."}]},
        "contents": USER_BODY["contents"],
        "generation_config": {"max_output_tokens": 1},
    }
    url = f"{gemini_fake.base_url}/v1beta/models/{MODEL}:generateContent?key=gemini-fake-key"
    response = _HTTP.post(url, json=body)
    assert response.status_code == 200
    payload = response.json()
    assert payload["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert payload["usageMetadata"]["promptTokenCount"] == 7
    assert gemini_fake.last_request.credential == "gemini-fake-key"


def test_count_tokens(gemini_fake: GeminiFake) -> None:
    api = client(gemini_fake)
    counted = api.models.count_tokens(model=MODEL, contents=PROMPT)
    assert counted.total_tokens == 5


# ------------------------------------------------------------------ auth and validation


def test_missing_key_is_403_and_wrong_key_is_400(gemini_fake: GeminiFake) -> None:
    url = f"{gemini_fake.base_url}/v1beta/models/{MODEL}:generateContent"
    missing = _HTTP.post(url, json=USER_BODY)
    assert missing.status_code == 403
    assert missing.json()["error"]["status"] == "PERMISSION_DENIED"
    wrong = genai.Client(
        api_key="AIza-wrong",
        http_options=types.HttpOptions(
            base_url=gemini_fake.base_url, api_version="v1beta", httpx_client=_HTTP
        ),
    )
    with pytest.raises(errors.ClientError) as caught:
        wrong.models.generate_content(model=MODEL, contents=PROMPT)
    assert caught.value.code == 400
    assert caught.value.status == "INVALID_ARGUMENT"
    assert caught.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"


def test_validation_and_unknown_model(gemini_fake: GeminiFake) -> None:
    empty = raw(gemini_fake, "generateContent", {"contents": []})
    assert empty.status_code == 400 and empty.json()["error"]["status"] == "INVALID_ARGUMENT"
    gemini_fake.known_models = {"gemini-other"}
    with pytest.raises(errors.ClientError) as caught:
        generate(gemini_fake)
    assert caught.value.code == 404 and caught.value.status == "NOT_FOUND"
    assert f"models/{MODEL} is not found for API version v1beta" in str(caught.value.message)


# ------------------------------------------------------------------ HTTP faults


def test_rate_limit_carries_retry_info_in_the_body(gemini_fake: GeminiFake) -> None:
    gemini_fake.enqueue(RateLimited(retry_after=2), QuotaExhausted())
    with pytest.raises(errors.ClientError) as limited:
        generate(gemini_fake)
    assert limited.value.code == 429 and limited.value.status == "RESOURCE_EXHAUSTED"
    types_ = {d["@type"].rsplit(".", 1)[-1]: d for d in limited.value.details["error"]["details"]}
    assert types_["RetryInfo"]["retryDelay"] == "2s"
    assert limited.value.response is not None
    with pytest.raises(errors.ClientError) as quota:
        generate(gemini_fake)
    details = quota.value.details["error"]["details"]
    assert not any(d["@type"].endswith("RetryInfo") for d in details)
    assert "PerDay" in details[0]["violations"][0]["quotaId"]


@pytest.mark.parametrize(
    ("fault", "code", "status"),
    [
        (ServerError(), 500, "INTERNAL"),
        (ServiceUnavailable(), 503, "UNAVAILABLE"),
        (Overloaded(), 503, "UNAVAILABLE"),
    ],
)
def test_server_faults(gemini_fake: GeminiFake, fault: Any, code: int, status: str) -> None:
    gemini_fake.enqueue(fault)
    with pytest.raises(errors.ServerError) as caught:
        generate(gemini_fake)
    assert caught.value.code == code and caught.value.status == status


def test_bad_gateway_is_html(gemini_fake: GeminiFake) -> None:
    gemini_fake.enqueue(BadGateway())
    with pytest.raises(errors.ServerError) as caught:
        stream(gemini_fake)
    assert caught.value.code == 502
    assert "Error 502 (Server Error)" in str(caught.value.message)


def test_context_length(gemini_fake: GeminiFake) -> None:
    gemini_fake.context_windows = {MODEL: 4}
    with pytest.raises(errors.ClientError) as caught:
        generate(gemini_fake)
    assert caught.value.code == 400 and caught.value.status == "INVALID_ARGUMENT"
    assert caught.value.message == (
        "The input token count (5) exceeds the maximum number of tokens allowed (4)."
    )
    gemini_fake.context_windows = {}
    gemini_fake.enqueue(ContextLengthExceeded(limit=1_048_576))
    with pytest.raises(errors.ClientError) as explicit:
        generate(gemini_fake)
    assert "(1048577) exceeds the maximum number of tokens allowed (1048576)" in str(
        explicit.value.message
    )


def test_blocked_prompt_is_a_200_without_candidates(gemini_fake: GeminiFake) -> None:
    gemini_fake.enqueue(ContentPolicy(), ContentPolicy())
    response = generate(gemini_fake)
    assert response.candidates is None
    assert response.prompt_feedback is not None
    assert response.prompt_feedback.block_reason == types.BlockedReason.SAFETY
    assert gemini_fake.last_request.status == 200
    [chunk] = stream(gemini_fake)
    assert chunk.prompt_feedback is not None and chunk.candidates is None


def test_safety_refusal_has_no_text(gemini_fake: GeminiFake) -> None:
    gemini_fake.enqueue(Refusal(), Refusal())
    response = generate(gemini_fake)
    candidate = (response.candidates or [])[0]
    assert candidate.finish_reason == types.FinishReason.SAFETY
    assert candidate.content is None and response.text is None
    assert candidate.safety_ratings
    [chunk] = stream(gemini_fake)
    assert (chunk.candidates or [])[0].finish_reason == types.FinishReason.SAFETY


# ------------------------------------------------------------------ transport and stream faults


def test_connection_reset_and_cut_stream(gemini_fake: GeminiFake) -> None:
    gemini_fake.enqueue(ConnectionReset(), CutAfter(2))
    with pytest.raises(httpx2.TransportError):
        generate(gemini_fake)
    received: list[types.GenerateContentResponse] = []
    with pytest.raises(httpx2.RemoteProtocolError):
        stream_into(gemini_fake, received)
    assert len(received) == 2


def test_silence_and_stall_time_out(gemini_fake: GeminiFake) -> None:
    gemini_fake.enqueue(AcceptThenSilent(), StallAfter(1))
    api = client(gemini_fake, timeout=400)  # milliseconds
    with pytest.raises(httpx2.ReadTimeout):
        api.models.generate_content(model=MODEL, contents=PROMPT)
    received: list[types.GenerateContentResponse] = []
    with pytest.raises(httpx2.ReadTimeout):
        stream_into(gemini_fake, received, timeout=400)
    assert len(received) == 1
    assert all(r.wait_disconnected() for r in gemini_fake.requests)


def test_error_inside_the_stream(gemini_fake: GeminiFake) -> None:
    gemini_fake.enqueue(StreamErrorEvent(after=1))
    received: list[types.GenerateContentResponse] = []
    with pytest.raises(errors.ServerError) as caught:
        stream_into(gemini_fake, received)
    assert len(received) == 1
    assert caught.value.code == 503 and caught.value.status == "UNAVAILABLE"


def test_invalid_event_and_malformed_body(gemini_fake: GeminiFake) -> None:
    gemini_fake.enqueue(InvalidEvent(after=1), MalformedBody())
    with pytest.raises(errors.UnknownApiResponseError):
        stream(gemini_fake)
    with pytest.raises(json.JSONDecodeError):
        generate(gemini_fake)


def test_stream_without_finish_reason(gemini_fake: GeminiFake) -> None:
    gemini_fake.enqueue(MissingSentinel(), MissingSentinel(keep_finish=False))
    # Gemini has no sentinel, so keeping the finish leaves the stream whole...
    whole = stream(gemini_fake)
    assert (whole[-1].candidates or [])[0].finish_reason == types.FinishReason.STOP
    # ...and dropping it leaves text with no finish reason and no error.
    cut = stream(gemini_fake)
    assert "".join(c.text or "" for c in cut) == f"Hello from {MODEL}."
    assert all((c.candidates or [])[0].finish_reason is None for c in cut)
