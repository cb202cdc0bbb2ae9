"""What the ledger bills for attempts that end before their usage report when the
conversation was summarized: the prompt each attempt sent, not the client's whole one."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from switchpoint.config.loader import parse_config
from switchpoint.server.background import BackgroundServer
from tests.context.conftest import SUMMARY, context_document
from tests.context.test_summarize import agent_request
from tests.fakes import AcceptThenSilent, AnthropicFake, GeminiFake, OpenAIFake
from tests.ledger.gateway_setup import flush, ledger_rows

PRICE = {"input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0}
# The summarizer profile's context (`gpt-sum`): no prompt sent to it is larger.
SUMMARIZER_CONTEXT = 128_000


@contextlib.contextmanager
def summarizing_gateway(
    ledger_url: str, slow_provider: str
) -> Iterator[tuple[BackgroundServer, OpenAIFake, OpenAIFake]]:
    """The context tests' four vendors with a ledger; `slow_provider` gives up on a
    silent vendor after half a second."""
    with (
        OpenAIFake() as main,
        OpenAIFake() as summarizer,
        AnthropicFake() as claude,
        GeminiFake() as long,
    ):
        summarizer.reply_text = SUMMARY
        document = context_document(main.base_url, summarizer.base_url, claude.origin, long.origin)
        document["providers"][slow_provider].update(
            {"first_token_timeout_s": 0.5, "timeout_s": 0.5, "stream_idle_timeout_s": 0.5}
        )
        document["models"] = {"gpt-main": PRICE, "gpt-sum": PRICE}
        document["ledger"] = {"url": ledger_url, "flush_interval_s": 0.05}
        environ = {
            "K_MAIN": main.api_key,
            "K_SUM": summarizer.api_key,
            "K_ANT": claude.api_key,
            "K_GEM": long.api_key,
        }
        config = parse_config(copy.deepcopy(document))
        with BackgroundServer(config, environ=environ) as server:
            yield server, main, summarizer


def sdk(server: BackgroundServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="sk-x", max_retries=0)


def attempts(ledger_url: str) -> list[tuple[Any, ...]]:
    return ledger_rows(
        ledger_url,
        "SELECT reason, outcome, input_tokens, usage_estimated, cost_usd FROM attempts "
        "ORDER BY seq",
    )


def test_a_summarized_call_that_times_out_is_billed_for_the_summary_it_sent(
    sqlite_url: str,
) -> None:
    with summarizing_gateway(sqlite_url, "main") as (server, main, _):
        main.enqueue(AcceptThenSilent())
        with pytest.raises(openai.APIStatusError) as failed:
            sdk(server).chat.completions.create(**agent_request(150_000))
        headers = failed.value.response.headers
        assert headers["x-switchpoint-context"] == "summarized"
        before = int(headers["x-switchpoint-context-tokens-before"])
        after = int(headers["x-switchpoint-context-tokens-after"])
        assert after < before
        flush(server)
    [timed_out] = [row for row in attempts(sqlite_url) if row[0] == "first"]
    assert timed_out[1] == "timeout" and bool(timed_out[3])
    # The vendor read the summarized conversation, not the client's.
    assert timed_out[2] == after
    assert timed_out[4] == pytest.approx(after * PRICE["input_usd_per_mtok"] / 1e6)
    [(requested, cost)] = ledger_rows(sqlite_url, "SELECT input_tokens, cost_usd FROM requests")
    assert requested == sum(row[2] for row in attempts(sqlite_url))
    assert cost == pytest.approx(sum(row[4] for row in attempts(sqlite_url)))


def test_a_summarizer_call_that_times_out_is_billed_for_its_own_prompt(
    sqlite_url: str,
) -> None:
    with summarizing_gateway(sqlite_url, "summ") as (server, _, summarizer):
        summarizer.set_mode(AcceptThenSilent())
        # The summary cannot be written: the call moves to the long-context profile.
        raw = sdk(server).chat.completions.with_raw_response.create(**agent_request(150_000))
        assert raw.headers["x-switchpoint-profile"] == "long"
        before = int(raw.headers["x-switchpoint-context-tokens-before"])
        assert before > SUMMARIZER_CONTEXT
        flush(server)
    timed_out = [row for row in attempts(sqlite_url) if row[0] == "summarize"]
    # One timed out; the summaries written alongside it were cancelled with it.
    assert "timeout" in [row[1] for row in timed_out]
    assert all(row[1] in ("timeout", "cancelled") and bool(row[3]) for row in timed_out)
    for _, _, tokens, _, _ in timed_out:
        # Each sent a part of the conversation within the summarizer's context.
        assert 0 < tokens <= SUMMARIZER_CONTEXT
