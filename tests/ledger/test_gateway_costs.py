"""What the ledger records for real calls through the gateway: tokens as the provider
reported them and their cost from the price table, streamed or not, for every provider
adapter; and an agent loop whose cost per completed outcome is checked by hand."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import openai
import pytest

from switchpoint.config.loader import parse_config
from switchpoint.providers.registry import HTTP_ADAPTERS
from switchpoint.server.background import BackgroundServer
from tests.fakes import (
    AcceptThenSilent,
    AnthropicFake,
    CutAfter,
    FakeUpstream,
    GeminiFake,
    OpenAIFake,
    RawResponse,
    ServerError,
)
from tests.ledger.gateway_setup import (
    client,
    flush,
    gateway_config,
    impatient_openai,
    ledger_rows,
    serving,
    usd,
)

# --- cost per provider adapter ---------------------------------------------------------

PRICE = {
    "input_usd_per_mtok": 3.0,
    "cached_input_usd_per_mtok": 0.3,
    "cache_write_usd_per_mtok": 3.75,
    "output_usd_per_mtok": 15.0,
}


@dataclass(frozen=True)
class Vendor:
    provider_type: str
    fake: type[FakeUpstream]
    model: str
    # Whether the vendor reports prompt-cache writes (Anthropic bills them apart).
    cache_writes: bool

    def provider(self, fake: FakeUpstream) -> dict[str, Any]:
        base_url = fake.base_url if self.provider_type == "openai" else fake.origin
        return {"type": self.provider_type, "base_url": base_url, "api_key_env": "VENDOR_KEY"}


# Every vendor whose adapter this build has: adapters added later are covered as they land.
VENDORS = [
    vendor
    for vendor in (
        Vendor("openai", OpenAIFake, "gpt-5.5", cache_writes=False),
        Vendor("anthropic", AnthropicFake, "claude-opus-4-7", cache_writes=True),
        Vendor("google", GeminiFake, "gemini-3.1-pro", cache_writes=False),
    )
    if vendor.provider_type in HTTP_ADAPTERS
]


@contextlib.contextmanager
def vendor_gateway(vendor: Vendor, ledger_url: str) -> Iterator[tuple[BackgroundServer, Any]]:
    with vendor.fake() as fake:
        document = {
                "providers": {"vendor": vendor.provider(fake)},
                "models": {vendor.model: PRICE},
                "routing": {
                    "default_profile": "only",
                    "profiles": {
                        "only": {
                            "model": vendor.model,
                            "provider": "vendor",
                            "max_context": 200_000,
                            "cost_weight": 1.0,
                        },
                    },
                },
                "ledger": {"url": ledger_url, "flush_interval_s": 0.1},
                "logging": {"access_log": False},
            }  # fmt: skip
        config = parse_config(document)
        with BackgroundServer(config, environ={"VENDOR_KEY": fake.api_key}) as server:
            yield server, fake


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("vendor", VENDORS, ids=[v.provider_type for v in VENDORS])
def test_cost_is_the_price_table_applied_to_the_reported_usage(
    vendor: Vendor, stream: bool, sqlite_url: str
) -> None:
    prompt, cached, written, output, reasoning = 12_345, 2_000, 0, 678, 90
    if vendor.cache_writes:
        written = 1_000
    with vendor_gateway(vendor, sqlite_url) as (server, fake):
        fake.input_tokens = prompt
        fake.cached_tokens = cached
        fake.cache_creation_tokens = written
        fake.output_tokens = output
        fake.reasoning_tokens = reasoning
        sdk = client(server)
        messages: list[Any] = [{"role": "user", "content": "count the tokens"}]
        if stream:
            for _ in sdk.chat.completions.create(model="auto", messages=messages, stream=True):
                pass
        else:
            sdk.chat.completions.create(model="auto", messages=messages)
        flush(server)
    [row] = ledger_rows(
        sqlite_url,
        "SELECT input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, "
        "cost_usd, stream FROM requests",
    )
    expected = (
        (prompt - cached - written) * 3.0
        + cached * 0.3
        + written * 3.75
        + (output + reasoning) * 15.0
    ) / 1e6
    assert row[:4] == (prompt, cached, written, output + reasoning)
    assert row[4] == pytest.approx(expected, rel=1e-12)
    assert bool(row[5]) is stream


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
def test_simulated_provider_calls_are_priced_too(stream: bool, sqlite_url: str) -> None:
    document = {
            "providers": {
                "sim": {
                    "type": "simulated",
                    "simulation": {"latency_ms": 1, "chunk_delay_ms": 0, "output_tokens": 40},
                }
            },
            "models": {"sim-model": PRICE},
            "routing": {
                "default_profile": "only",
                "profiles": {
                    "only": {
                        "model": "sim-model",
                        "provider": "sim",
                        "max_context": 10_000,
                        "cost_weight": 1.0,
                    }
                },
            },
            "ledger": {"url": sqlite_url},
            "logging": {"access_log": False},
        }  # fmt: skip
    config = parse_config(document)
    content = "x" * 400  # the simulator counts a token per 4 characters: 100 tokens
    with BackgroundServer(config) as server:
        sdk = client(server)
        messages: list[Any] = [{"role": "user", "content": content}]
        if stream:
            for _ in sdk.chat.completions.create(model="auto", messages=messages, stream=True):
                pass
        else:
            sdk.chat.completions.create(model="auto", messages=messages)
        flush(server)
    [(tokens_in, tokens_out, cost)] = ledger_rows(
        sqlite_url, "SELECT input_tokens, output_tokens, cost_usd FROM requests"
    )
    assert (tokens_in, tokens_out) == (100, 40)
    assert cost == pytest.approx((100 * 3.0 + 40 * 15.0) / 1e6)


# --- an agent loop ---------------------------------------------------------------------


def test_agent_loop_cost_per_completed_outcome(ledger_url: str, openai_fake: OpenAIFake) -> None:
    openai_fake.input_tokens = 1000
    openai_fake.output_tokens = 100
    config = gateway_config(openai_fake, ledger_url)
    with serving(config, openai_fake) as server:
        sdk = client(server)
        messages: list[Any] = [{"role": "user", "content": "fix the failing test"}]

        def step(task: str, index: int) -> None:
            headers = {"X-Switchpoint-Task-Id": task, "X-Switchpoint-Workload": "terminal_agent"}
            if index % 2:
                for _ in sdk.chat.completions.create(
                    model="auto", messages=messages, stream=True, extra_headers=headers
                ):
                    pass
            else:
                sdk.chat.completions.create(model="auto", messages=messages, extra_headers=headers)

        # Task 1: 20 calls; the 5th one's first attempt fails and is retried (no tokens).
        for index in range(20):
            if index == 4:
                openai_fake.enqueue(ServerError())
            step("loop-1", index)
        # Task 2: 10 calls, then it fails: its cost still counts against the outcome.
        for index in range(10):
            step("loop-2", index)

        base = server.base_url
        posted = httpx2.post(
            f"{base}/v1/outcomes",
            json={"task_id": "loop-1", "outcome": "success", "kind": "pr_merged"},
        )
        assert posted.status_code == 200, posted.text
        assert posted.json()["status"] == "created"
        failed = httpx2.post(
            f"{base}/v1/outcomes",
            json={"task_id": "loop-2", "outcome": "failure", "kind": "pr_merged"},
        )
        assert failed.status_code == 200

        task = httpx2.get(f"{base}/v1/tasks/loop-1").json()
        per_call = usd("gpt-5.5", 1000, 100)
        assert task["calls"] == 20
        assert task["attempts"] == 21
        assert task["input_tokens"] == 20 * 1000
        assert task["output_tokens"] == 20 * 100
        assert task["cost_usd"] == pytest.approx(20 * per_call)
        assert task["models"] == ["gpt-5.5"]
        assert task["outcomes"][0]["outcome"] == "success"
        assert task["wall_time_s"] > 0

        report = httpx2.get(f"{base}/v1/reports/outcomes", params={"since": "1h"}).json()
        [group] = report["groups"]
        assert group["key"] == "terminal_agent"
        assert group["requests"] == 30
        assert group["tasks"] == 2
        assert group["completed_outcomes"] == 1
        assert group["success_rate"] == pytest.approx(0.5)
        assert group["cost_usd"] == pytest.approx(30 * per_call)
        # Both tasks' cost (the failed one included) for the one merged PR.
        assert group["cost_per_completed_outcome"] == pytest.approx(30 * per_call)
        assert group["tokens_per_completed_outcome"] == pytest.approx(30 * 1100)
        assert group["fallback_rate"] == 0.0
        assert group["latency_p50_ms"] > 0
        assert group["latency_p95_ms"] >= group["latency_p50_ms"]
    rows = ledger_rows(
        ledger_url, "SELECT COUNT(*), SUM(attempts) FROM requests WHERE task_id = ?", ("loop-1",)
    )
    assert rows == [(20, 21)]


def test_retries_and_fallbacks_are_recorded_attempt_by_attempt(
    sqlite_url: str, openai_fake: OpenAIFake
) -> None:
    openai_fake.input_tokens = 500
    openai_fake.output_tokens = 50
    config = gateway_config(openai_fake, sqlite_url)
    with serving(config, openai_fake) as server:
        openai_fake.enqueue(ServerError(), model="gpt-5.5")
        openai_fake.enqueue(ServerError(), model="gpt-5.5")
        openai_fake.enqueue(ServerError(), model="gpt-5.5")
        response = client(server).chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": "hi"}]
        )
        assert response.headers["x-switchpoint-profile"] == "cost_sensitive"
        flush(server)
    [(attempts, fallback, cost, model)] = ledger_rows(
        sqlite_url, "SELECT attempts, fallback, cost_usd, model FROM requests"
    )
    assert attempts == 4
    assert bool(fallback)
    assert model == "gpt-5.4"
    assert cost == pytest.approx(usd("gpt-5.4", 500, 50))
    outcomes = ledger_rows(sqlite_url, "SELECT outcome FROM attempts ORDER BY seq")
    assert [o[0] for o in outcomes] == ["server_error"] * 3 + ["ok"]


def test_a_stream_cut_after_content_began_is_recorded_at_its_estimated_cost(
    sqlite_url: str, openai_fake: OpenAIFake
) -> None:
    # The provider generated (and bills) tokens but never reported them: the estimate
    # execution makes for the cut attempt is recorded, and flagged as one.
    openai_fake.reply_text = "one two three four five six seven eight nine ten"
    openai_fake.stream_chunks = 5
    config = gateway_config(openai_fake, sqlite_url)
    with serving(config, openai_fake) as server:
        openai_fake.enqueue(CutAfter(events=3))
        with pytest.raises(openai.APIError):
            for _ in client(server).chat.completions.create(
                model="auto",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                extra_headers={"X-Switchpoint-Task-Id": "cut"},
            ):
                pass
        flush(server)
    [(status, estimated, tokens_in, tokens_out, cost, known)] = ledger_rows(
        sqlite_url,
        "SELECT status, usage_estimated, input_tokens, output_tokens, cost_usd, cost_known "
        "FROM requests",
    )
    assert status == "upstream_error"
    assert bool(estimated) and bool(known)
    assert tokens_out > 0
    assert cost == pytest.approx(usd("gpt-5.5", tokens_in, tokens_out))
    [(attempt_estimated,)] = ledger_rows(sqlite_url, "SELECT usage_estimated FROM attempts")
    assert bool(attempt_estimated)


def test_a_call_whose_client_left_before_the_answer_is_billed_for_its_prompt(
    sqlite_url: str, openai_fake: OpenAIFake
) -> None:
    # The vendor read the prompt (and bills it) but the client hung up before the answer:
    # the prompt as the gateway counted it is recorded, flagged as an estimate, and it
    # counts against the task's spend. Output is unknown and not guessed.
    config = gateway_config(openai_fake, sqlite_url)
    with serving(config, openai_fake) as server:
        openai_fake.enqueue(AcceptThenSilent())
        with pytest.raises(openai.APITimeoutError):
            client(server, timeout=0.5).chat.completions.create(
                model="auto",
                messages=[{"role": "user", "content": "count these words please " * 50}],
                extra_headers={"X-Switchpoint-Task-Id": "left"},
            )
        assert openai_fake.requests[0].wait_disconnected(5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            flush(server)
            if ledger_rows(sqlite_url, "SELECT 1 FROM requests"):
                break
            time.sleep(0.05)
    [(status, estimated, tokens_in, tokens_out, cost)] = ledger_rows(
        sqlite_url,
        "SELECT status, usage_estimated, input_tokens, output_tokens, cost_usd FROM requests",
    )
    assert status == "cancelled"
    assert bool(estimated)
    assert tokens_in > 200 and tokens_out == 0
    assert cost == pytest.approx(usd("gpt-5.5", tokens_in, 0))
    [(task_cost,)] = ledger_rows(sqlite_url, "SELECT cost_usd FROM tasks")
    assert task_cost == pytest.approx(cost)


def test_an_attempt_that_timed_out_is_billed_for_the_prompt_the_vendor_read(
    sqlite_url: str, openai_fake: OpenAIFake
) -> None:
    # The vendor took the request and never answered in time: it bills the prompt all the
    # same, so each timed-out attempt records the prompt as counted, flagged as estimated.
    provider = impatient_openai(openai_fake)
    config = gateway_config(openai_fake, sqlite_url, providers={"openai": provider})
    with serving(config, openai_fake) as server:
        openai_fake.enqueue(AcceptThenSilent())  # the fallback is answered
        client(server, max_retries=0).chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": "count these words please " * 50}],
            extra_headers={"X-Switchpoint-Task-Id": "slow"},
        )
        flush(server)
    attempts = ledger_rows(
        sqlite_url,
        "SELECT outcome, usage_estimated, input_tokens, output_tokens, cost_usd FROM attempts "
        "ORDER BY seq",
    )
    timed_out = [row for row in attempts if row[0] == "timeout"]
    assert len(timed_out) == 1 and attempts[-1][0] == "ok"
    for _, estimated, tokens_in, tokens_out, cost in timed_out:
        assert bool(estimated) and tokens_in > 200 and tokens_out == 0
        assert cost is not None and cost > 0
    [(task_cost,)] = ledger_rows(sqlite_url, "SELECT cost_usd FROM tasks")
    assert task_cost == pytest.approx(sum(row[4] for row in attempts))


def test_an_answer_without_a_usage_report_has_unknown_cost_not_zero(
    sqlite_url: str, openai_fake: OpenAIFake
) -> None:
    # An OpenAI-compatible server that answers but reports no usage at all.
    answer = {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-5.5",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hello"},
                "finish_reason": "stop",
            }
        ],
    }
    config = gateway_config(openai_fake, sqlite_url)
    with serving(config, openai_fake) as server:
        openai_fake.enqueue(RawResponse(status=200, body=json.dumps(answer).encode()))
        response = client(server).chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"X-Switchpoint-Task-Id": "no-usage"},
        )
        assert response.choices[0].message.content == "hello"
        flush(server)
    [(cost, known, estimated)] = ledger_rows(
        sqlite_url, "SELECT cost_usd, cost_known, usage_estimated FROM requests"
    )
    assert cost is None
    assert not known and not estimated
    assert ledger_rows(sqlite_url, "SELECT unpriced_calls FROM tasks") == [(1,)]


def test_openai_sdk_error_for_a_refused_call_is_not_recorded(
    sqlite_url: str, openai_fake: OpenAIFake
) -> None:
    config = gateway_config(openai_fake, sqlite_url)
    with serving(config, openai_fake) as server:
        with pytest.raises(openai.BadRequestError):
            client(server).chat.completions.create(
                model="auto",
                messages=[{"role": "user", "content": "hi"}],
                extra_headers={"X-Switchpoint-Workload": "no_such_workload"},
            )
        flush(server)
    assert ledger_rows(sqlite_url, "SELECT COUNT(*) FROM requests") == [(0,)]


def test_a_stream_cut_after_streamed_reasoning_is_estimated_with_its_reasoning(
    sqlite_url: str, openai_fake: OpenAIFake
) -> None:
    # A model that streams its reasoning (DeepSeek's `reasoning_content`, vLLM's
    # `reasoning`) is billed for it as output: a stream cut after 4,000 characters of
    # reasoning and a word of answer consumed about 1,000 output tokens, not one.
    reasoning = "step " * 800

    def chunk(delta: dict[str, Any]) -> str:
        body = {"id": "chatcmpl-r", "object": "chat.completion.chunk", "created": 0,
                "model": "gpt-5.5", "choices": [{"index": 0, "delta": delta,
                                                 "finish_reason": None}]}  # fmt: skip
        return f"data: {json.dumps(body)}\n\n"

    pieces = [chunk({"role": "assistant", "content": ""})]
    pieces += [chunk({"reasoning_content": reasoning[i : i + 400]}) for i in range(0, 4000, 400)]
    pieces.append(chunk({"content": "Hello"}))
    # No finish reason, no usage, no [DONE]: the stream was cut.
    cut = RawResponse(status=200, body="".join(pieces).encode(), content_type="text/event-stream")
    config = gateway_config(openai_fake, sqlite_url)
    with serving(config, openai_fake) as server:
        openai_fake.enqueue(cut)
        with pytest.raises(openai.APIError):
            for _ in client(server).chat.completions.create(
                model="auto", messages=[{"role": "user", "content": "think"}], stream=True
            ):
                pass
        flush(server)
    [(estimated, tokens_in, tokens_out, cost)] = ledger_rows(
        sqlite_url, "SELECT usage_estimated, input_tokens, output_tokens, cost_usd FROM attempts"
    )
    assert bool(estimated)
    assert tokens_out >= len(reasoning) // 4
    assert cost == pytest.approx(usd("gpt-5.5", tokens_in, tokens_out))
