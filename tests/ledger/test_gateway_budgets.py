"""Budgets through the gateway, with the official SDK as the client: a key's budget under
100 concurrent calls, task budgets that downgrade or refuse, and their error shape."""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from tests.fakes import OpenAIFake
from tests.ledger.gateway_setup import (
    MASTER_KEY,
    aclient,
    client,
    create_key,
    flush,
    gateway_config,
    gateway_of,
    ledger_rows,
    serving,
    usd,
)
from tests.observability.stack import scrape, total, value

PROMPT, OUTPUT = 1000, 100
# A premium (terminal_agent, gpt-5.5) call of PROMPT in and OUTPUT out.
CALL_USD = usd("gpt-5.5", PROMPT, OUTPUT)
CHEAP_USD = usd("gpt-5.4", PROMPT, OUTPUT)
MESSAGES: list[Any] = [{"role": "user", "content": "next step"}]


def exact_usage(fake: OpenAIFake) -> None:
    """The fake reports exactly what the gateway will estimate (context header + max_tokens)."""
    fake.input_tokens = PROMPT
    fake.output_tokens = OUTPUT


def call_headers(task: str | None = None, **extra: str) -> dict[str, str]:
    headers = {"X-Switchpoint-Context-Tokens": str(PROMPT)}
    if task is not None:
        headers["X-Switchpoint-Task-Id"] = task
    headers.update(extra)
    return headers


def test_100_concurrent_calls_on_a_key_whose_budget_allows_10(
    ledger_url: str, openai_fake: OpenAIFake
) -> None:
    exact_usage(openai_fake)
    openai_fake.header_delay = 0.5  # every call is still in flight when the last arrives
    config = gateway_config(openai_fake, ledger_url)
    with serving(config, openai_fake, master_key=MASTER_KEY) as server:
        budget = 10 * CALL_USD * (1 + 1e-9)
        key = create_key(server.base_url, team="agents", budget_usd=budget, period="month")

        async def one(sdk: openai.AsyncOpenAI) -> str:
            try:
                await sdk.chat.completions.create(
                    model="auto", messages=MESSAGES, max_tokens=OUTPUT, extra_headers=call_headers()
                )
            except openai.RateLimitError as error:
                body = error.body
                assert isinstance(body, dict)
                assert body["type"] == "budget_exceeded"
                assert body["message"].startswith("key budget exceeded")
                return "refused"
            return "served"

        async def burst() -> list[str]:
            # The SDK's own retries stay on: a budget refusal must not be retried.
            async with aclient(server, api_key=key["key"], max_retries=2) as sdk:
                return await asyncio.gather(*(one(sdk) for _ in range(100)))

        results = asyncio.run(burst())
        assert results.count("served") == 10
        assert results.count("refused") == 90
        assert openai_fake.request_count() == 10
        flush(server)
        account = gateway_of(server).key_budgets.get(key["id"])
        assert account is not None
        assert account.usd.reserved == pytest.approx(0.0, abs=1e-12)
        assert account.usd.spent == pytest.approx(10 * CALL_USD)
        keys = httpx2.get(
            f"{server.base_url}/v1/keys", headers={"Authorization": f"Bearer {MASTER_KEY}"}
        ).json()["keys"]
        assert keys[0]["spent_usd"] == pytest.approx(10 * CALL_USD)
        # Settled: what is left is known exactly, and says so.
        with pytest.raises(openai.RateLimitError) as raised:
            client(server, api_key=key["key"]).chat.completions.create(
                model="auto", messages=MESSAGES, max_tokens=OUTPUT, extra_headers=call_headers()
            )
        assert raised.value.status_code == 429
        assert raised.value.response.headers["x-should-retry"] == "false"
        message = raised.value.body["message"]  # type: ignore[index]
        assert f"virtual key {key['id']} (team agents) has $0.0000 left" in message
        assert "monthly budget" in message
    [(spent, requests)] = ledger_rows(
        ledger_url, "SELECT SUM(cost_usd), COUNT(*) FROM requests WHERE key_id = ?", (key["id"],)
    )
    assert requests == 10
    assert spent == pytest.approx(10 * CALL_USD)
    assert spent <= budget


def test_task_token_budget_downgrades_then_refuses(
    ledger_url: str, openai_fake: OpenAIFake
) -> None:
    exact_usage(openai_fake)
    config = gateway_config(openai_fake, ledger_url, cost={"on_task_budget": "downgrade"})
    with serving(config, openai_fake) as server:
        sdk = client(server, max_retries=2)
        headers = call_headers("budgeted", **{"X-Switchpoint-Task-Budget-Tokens": "5000"})
        served = []
        for _ in range(5):
            raw = sdk.chat.completions.with_raw_response.create(
                model="auto", messages=MESSAGES, max_tokens=OUTPUT, extra_headers=headers
            )
            served.append(raw.headers["x-switchpoint-profile"])
        # 4 x 1100 tokens fit in 5000; the 5th would not, so it goes to the budget profile.
        assert served == ["terminal_agent"] * 4 + ["cost_sensitive"]
        with pytest.raises(openai.RateLimitError) as raised:
            sdk.chat.completions.create(
                model="auto", messages=MESSAGES, max_tokens=OUTPUT, extra_headers=headers
            )
        message = raised.value.body["message"]  # type: ignore[index]
        assert message.startswith("task budget exceeded: task 'budgeted'")
        assert "token budget is spent (5,500 tokens of 5,000 tokens used, 0 tokens left)" in (
            message
        )
        assert openai_fake.request_count() == 5  # the refusal was not retried
        task = httpx2.get(f"{server.base_url}/v1/tasks/budgeted").json()
        assert task["budget"]["tokens"] == 5000
        assert task["budget"]["tokens_left"] == 0
        assert task["tokens"] == 5500
        assert task["models"] == ["gpt-5.5", "gpt-5.4"]
        flush(server)
    rows = ledger_rows(
        ledger_url,
        "SELECT model, fallback, rules, task_budget_tokens FROM requests WHERE task_id = ? "
        "ORDER BY ts",
        ("budgeted",),
    )
    assert [r[0] for r in rows] == ["gpt-5.5"] * 4 + ["gpt-5.4"]
    assert bool(rows[4][1]) and rows[4][2] == "task_budget"
    assert all(r[3] == 5000 for r in rows)


def test_reject_mode_refuses_the_call_that_would_exceed_the_task_budget(
    sqlite_url: str, openai_fake: OpenAIFake
) -> None:
    exact_usage(openai_fake)
    config = gateway_config(openai_fake, sqlite_url, cost={"on_task_budget": "reject"})
    with serving(config, openai_fake) as server:
        sdk = client(server)
        headers = call_headers("strict", **{"X-Switchpoint-Task-Budget-Tokens": "3000"})
        for _ in range(2):
            sdk.chat.completions.create(
                model="auto", messages=MESSAGES, max_tokens=OUTPUT, extra_headers=headers
            )
        with pytest.raises(openai.RateLimitError) as raised:
            sdk.chat.completions.create(
                model="auto", messages=MESSAGES, max_tokens=OUTPUT, extra_headers=headers
            )
        message = raised.value.body["message"]  # type: ignore[index]
        assert "would exceed its token budget" in message
        assert "800 tokens left" in message
        assert raised.value.code == "budget_exceeded"


def test_workload_default_usd_budget_downgrades_until_spent(
    sqlite_url: str, openai_fake: OpenAIFake
) -> None:
    exact_usage(openai_fake)
    limit = 2.6 * CALL_USD
    config = gateway_config(
        openai_fake, sqlite_url, cost={"task_budgets": {"terminal_agent": {"usd": limit}}}
    )
    with serving(config, openai_fake) as server:
        sdk = client(server)
        served = []
        with pytest.raises(openai.RateLimitError) as raised:
            for _ in range(10):
                raw = sdk.chat.completions.with_raw_response.create(
                    model="auto",
                    messages=MESSAGES,
                    max_tokens=OUTPUT,
                    extra_headers=call_headers("defaulted"),
                )
                served.append(raw.headers["x-switchpoint-model"])
        # 2 premium calls, then cheaper ones while budget is left, then a refusal.
        assert served == ["gpt-5.5", "gpt-5.5", "gpt-5.4", "gpt-5.4", "gpt-5.4"]
        assert "USD budget is spent" in raised.value.body["message"]  # type: ignore[index]
        task = httpx2.get(f"{server.base_url}/v1/tasks/defaulted").json()
        assert task["budget"]["usd"] == pytest.approx(limit)
        assert task["cost_usd"] == pytest.approx(2 * CALL_USD + 3 * CHEAP_USD)


def test_streamed_calls_count_against_the_task_budget(
    sqlite_url: str, openai_fake: OpenAIFake
) -> None:
    exact_usage(openai_fake)
    config = gateway_config(openai_fake, sqlite_url, cost={"on_task_budget": "reject"})
    with serving(config, openai_fake) as server:
        sdk = client(server)
        headers = call_headers("streamy", **{"X-Switchpoint-Task-Budget-Tokens": "2300"})
        for _ in range(2):
            for _ in sdk.chat.completions.create(
                model="auto",
                messages=MESSAGES,
                max_tokens=OUTPUT,
                stream=True,
                extra_headers=headers,
            ):
                pass
        with pytest.raises(openai.RateLimitError):
            sdk.chat.completions.create(
                model="auto", messages=MESSAGES, max_tokens=OUTPUT, extra_headers=headers
            )
        account = gateway_of(server).task_budgets.get("streamy")
        assert account is not None and account.tokens.spent == 2200


@pytest.mark.parametrize(
    ("headers", "param"),
    [
        ({"X-Switchpoint-Task-Id": "t", "X-Switchpoint-Task-Budget-Tokens": "-5"}, "Tokens"),
        ({"X-Switchpoint-Task-Id": "t", "X-Switchpoint-Task-Budget-Tokens": "lots"}, "Tokens"),
        ({"X-Switchpoint-Task-Id": "t", "X-Switchpoint-Task-Budget-Usd": "0"}, "Usd"),
        ({"X-Switchpoint-Task-Id": "t", "X-Switchpoint-Task-Budget-Usd": "nan"}, "Usd"),
        ({"X-Switchpoint-Task-Budget-Usd": "5"}, "Task-Id"),
    ],
)
def test_bad_budget_headers_are_a_clear_400(
    headers: dict[str, str], param: str, sqlite_url: str, openai_fake: OpenAIFake
) -> None:
    config = gateway_config(openai_fake, sqlite_url)
    with serving(config, openai_fake) as server:
        with pytest.raises(openai.BadRequestError) as raised:
            client(server).chat.completions.create(
                model="auto", messages=MESSAGES, extra_headers=headers
            )
        body = raised.value.body
        assert isinstance(body, dict)
        assert body["param"].endswith(param)
        assert openai_fake.request_count() == 0


def test_budget_refusals_speak_the_anthropic_protocol_too(
    sqlite_url: str, openai_fake: OpenAIFake
) -> None:
    config = gateway_config(openai_fake, sqlite_url)
    with serving(config, openai_fake, master_key=MASTER_KEY) as server:
        key = create_key(server.base_url, team="claude-users", budget_usd=1e-6, period="day")
        sdk = anthropic.Anthropic(base_url=server.base_url, api_key=key["key"], max_retries=2)
        with pytest.raises(anthropic.RateLimitError) as raised:
            sdk.messages.create(
                model="auto", max_tokens=OUTPUT, messages=[{"role": "user", "content": "hi"}]
            )
        body = raised.value.body
        assert isinstance(body, dict)
        assert body["type"] == "error"
        assert body["error"]["type"] == "budget_exceeded"
        assert "key budget exceeded" in body["error"]["message"]
        assert "daily budget" in body["error"]["message"]
        assert openai_fake.request_count() == 0


def test_a_declared_context_size_cannot_shrink_a_keys_reservation(
    ledger_url: str, openai_fake: OpenAIFake
) -> None:
    # The prompt is ~5,000 tokens; the client declares 1 to have each call reserve nothing.
    prompt = [{"role": "user", "content": "word " * 5000}]
    openai_fake.input_tokens, openai_fake.output_tokens = 5000, OUTPUT
    openai_fake.header_delay = 0.5  # every call is still in flight when the last arrives
    config = gateway_config(openai_fake, ledger_url)
    with serving(config, openai_fake, master_key=MASTER_KEY) as server:
        budget = 2.5 * usd("gpt-5.5", 5000, OUTPUT)
        key = create_key(server.base_url, team="agents", budget_usd=budget, period="month")

        async def one(sdk: openai.AsyncOpenAI) -> str:
            try:
                await sdk.chat.completions.create(
                    model="auto",
                    messages=prompt,
                    max_tokens=OUTPUT,
                    extra_headers={"X-Switchpoint-Context-Tokens": "1"},
                )
            except openai.RateLimitError:
                return "refused"
            return "served"

        async def burst() -> list[str]:
            async with aclient(server, api_key=key["key"], max_retries=0) as sdk:
                return await asyncio.gather(*(one(sdk) for _ in range(20)))

        results = asyncio.run(burst())
        # The gateway's own count is reserved: two calls fit (the declaration let all 20 in).
        assert results.count("served") == 2
        flush(server)
    [(spent,)] = ledger_rows(
        ledger_url, "SELECT SUM(cost_usd) FROM requests WHERE key_id = ?", (key["id"],)
    )
    assert spent <= budget


def test_a_task_budget_downgrade_is_a_budget_fallback_in_the_metrics(
    sqlite_url: str, openai_fake: OpenAIFake
) -> None:
    # The ledger counts the downgraded call as a fallback (and reports it in the fallback
    # rate); /metrics counts the move by its reason, as it does a budget_fallback's.
    exact_usage(openai_fake)
    config = gateway_config(openai_fake, sqlite_url, cost={"on_task_budget": "downgrade"})
    with serving(config, openai_fake) as server:
        sdk = client(server)
        headers = call_headers("metered", **{"X-Switchpoint-Task-Budget-Tokens": "2000"})
        served = [
            sdk.chat.completions.with_raw_response.create(
                model="auto", messages=MESSAGES, max_tokens=OUTPUT, extra_headers=headers
            ).headers["x-switchpoint-profile"]
            for _ in range(2)
        ]
        assert served == ["terminal_agent", "cost_sensitive"]
        flush(server)
        samples = scrape(server)
        snapshot = httpx2.get(f"{server.base_url}/ui/api/snapshot").json()
    assert ledger_rows(sqlite_url, "SELECT SUM(fallback) FROM requests") == [(1,)]
    fallback_requests = value(
        samples, "switchpoint_fallback_requests_total", workload="terminal_agent"
    )
    assert fallback_requests == 1
    assert value(samples, "switchpoint_fallbacks_total", reason="budget") == 1
    assert total(samples, "switchpoint_fallbacks_total") == fallback_requests
    assert snapshot["fallback"]["reasons"] == {"budget": 1}


def test_a_call_refused_for_a_budget_is_counted_under_its_workload(
    sqlite_url: str, openai_fake: OpenAIFake
) -> None:
    # Routed, then refused: /metrics counts the refusal under the workload it asked for
    # (`none` is for requests refused before they were routed), and writes no ledger row.
    exact_usage(openai_fake)
    config = gateway_config(openai_fake, sqlite_url, cost={"on_task_budget": "reject"})
    with serving(config, openai_fake) as server:
        sdk = client(server)
        headers = call_headers("capped", **{"X-Switchpoint-Task-Budget-Tokens": "1500"})
        sdk.chat.completions.create(
            model="terminal_agent", messages=MESSAGES, max_tokens=OUTPUT, extra_headers=headers
        )
        with pytest.raises(openai.RateLimitError):
            sdk.chat.completions.create(
                model="terminal_agent", messages=MESSAGES, max_tokens=OUTPUT, extra_headers=headers
            )
        flush(server)
        samples = scrape(server)
    refused = total(
        samples, "switchpoint_requests_total", workload="terminal_agent", status="client_error"
    )
    assert refused == 1
    assert total(samples, "switchpoint_requests_total", workload="none") == 0
    assert ledger_rows(sqlite_url, "SELECT COUNT(*) FROM requests") == [(1,)]
