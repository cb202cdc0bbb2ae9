"""`POST /v1/route` and `switchpoint route` show the context decision without calling a
provider; `count_tokens` answers with the count switchpoint routes by; metrics and the
access log say what summarization did."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.context.checks import exact_tokens
from tests.context.conftest import HTTP, ContextStack
from tests.context.test_summarize import agent_request
from tests.data.transcripts import anthropic_body, cached_transcript, conversation

ROOT = Path(__file__).resolve().parents[2]


def route(stack: ContextStack, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = stack.post("/v1/route", body, **headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def no_upstream_calls(stack: ContextStack) -> bool:
    fakes = (stack.main, stack.summarizer, stack.claude, stack.long)
    return all(fake.request_count() == 0 for fake in fakes)


def test_route_shows_what_would_be_summarized(stack: ContextStack) -> None:
    body = agent_request(150_000)
    result = route(stack, body)
    assert result["profile"] == "main"
    assert result["context_action"] == "summarized"
    assert result["rules"] == ["context_summarized"]
    context = result["context"]
    assert context["action"] == "summarized" and context["strategy"] == "hierarchical"
    assert context["tokens"] > 140_000 and context["max_context"] == 100_000
    assert context["reliability_threshold"] == 600_000
    assert context["counted"] in ("estimate", "mixed", "exact")
    assert context["tokens_dispatched"] == 100_000 - 1024
    plan = context["summarization"]
    assert plan["compressible"] is True and plan["reason"] == "ok"
    assert plan["summarizer_profile"] == "summarizer"
    # Internal messages: the system prompt apart, a round's tool results in one message.
    assert plan["messages"] == len(conversation(cached_transcript(150_000)).messages)
    assert plan["summarized_messages"] + plan["kept_messages"] == plan["messages"]
    assert plan["chunks"] >= 2 and plan["tokens_after_max"] <= 100_000 - 1024
    assert no_upstream_calls(stack)


def test_route_counts_exactly_near_a_limit(stack: ContextStack) -> None:
    # Just under 100K tokens for a 100K model: the estimate's bound straddles the limit,
    # so the count is refined with the BPE to the exact figure. Its bound then holds
    # only the assumed tool-call framing (±4 tokens a call), which does not fit: moved.
    body = agent_request(107_000, seed=3)
    exact = exact_tokens(body)
    assert 99_000 < exact <= 100_000
    result = route(stack, body, **{"x-switchpoint-context-strategy": "none"})
    main = result["context"]["counts"]["main"]
    assert main["counted"] == "exact" and main["tokens"] == exact
    assert exact + main["error_bound"] > 100_000
    assert result["context_action"] == "moved" and result["profile"] == "long"
    # With a bit less, the same exact count fits and the request passes.
    body["messages"] = body["messages"][:-4] + body["messages"][-2:]
    passed = route(stack, body, **{"x-switchpoint-context-strategy": "none"})
    assert passed["context_action"] == "passed"
    assert passed["context"]["counts"]["main"]["counted"] in ("exact", "mixed")


def test_route_other_strategies_and_a_bare_count(stack: ContextStack) -> None:
    body = agent_request(150_000)
    moved = route(stack, {**body, "strategy": "none"})
    assert moved["context_action"] == "moved" and moved["profile"] == "long"
    assert "summarization" not in moved["context"]

    rejected = route(stack, body, **{"x-switchpoint-context-strategy": "reject"})
    assert rejected["context_action"] == "rejected"
    assert "'reject'" in rejected["context"]["error"]

    # A bare count: nothing to summarize, so hierarchical falls back to the move.
    bare = route(stack, {"workload": "main", "estimated_context_tokens": 150_000})
    assert bare["context_action"] == "moved" and bare["profile"] == "long"
    assert bare["context"]["counted"] == "given"
    assert any("a token count alone" in note for note in bare["explanations"])
    assert no_upstream_calls(stack)


def test_route_takes_an_anthropic_body(stack: ContextStack) -> None:
    body = anthropic_body(cached_transcript(300_000, 1), model="claude", max_tokens=2000)
    result = route(stack, {**body, "protocol": "anthropic"})
    assert result["profile"] == "claude" and result["context_action"] == "summarized"
    assert result["context"]["reserved_output"] == 2000
    assert result["context"]["tokens_dispatched"] == 200_000 - 2000


def test_cli_route_explains_the_context(stack: ContextStack, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(stack.document))
    request = tmp_path / "request.json"
    request.write_text(json.dumps(agent_request(150_000)))

    def cli(*args: str) -> tuple[int, dict[str, Any]]:
        done = subprocess.run(
            [sys.executable, "-m", "switchpoint", "route", "--config", str(config), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return done.returncode, json.loads(done.stdout)

    code, planned = cli("--request", str(request))
    assert code == 0
    assert planned["context_action"] == "summarized"
    assert planned["context"]["summarization"]["compressible"] is True

    code, bare = cli("--workload", "main", "--tokens", "150000")
    assert code == 0 and bare["context_action"] == "moved" and bare["profile"] == "long"

    code, refused = cli("--workload", "main", "--tokens", "150000", "--strategy", "reject")
    assert code == 1 and refused["context_action"] == "rejected"

    code, error = cli("--workload", "main", "--tokens", "5000000")
    assert code == 1 and error["error"]["type"] == "context_length_exceeded"
    assert no_upstream_calls(stack)


def test_count_tokens_counts_for_the_model_asked(stack: ContextStack) -> None:
    body = anthropic_body(cached_transcript(20_000, 4), model="claude", max_tokens=100)
    del body["max_tokens"]
    headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    claude = stack.post("/v1/messages/count_tokens", body, **headers).json()["input_tokens"]
    openai_model = stack.post(
        "/v1/messages/count_tokens", {**body, "model": "main"}, **headers
    ).json()["input_tokens"]
    # Claude Opus 4.7's tokenizer counts more than o200k: the assumed ratio is 1.46.
    assert 1.3 < claude / openai_model < 1.6
    assert abs(openai_model - 20_000) < 0.2 * 20_000
    assert stack.claude.request_count() == 0


def test_metrics_count_summarizations(stack: ContextStack) -> None:
    body = agent_request(150_000)
    stack.post("/v1/chat/completions", body)
    stack.post("/v1/chat/completions", body)
    metrics = HTTP.get(stack.base_url + "/metrics").text
    lines = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("switchpoint_summar")
    }
    key = 'switchpoint_summarizations_total{outcome="summarized",trigger="routing",workload="main"}'
    assert lines[key] == 2.0
    calls = lines["switchpoint_summarizer_calls_total"]
    assert calls == stack.summarizer.request_count() >= 2
    assert lines["switchpoint_summary_cache_hits_total"] >= 1
    assert lines["switchpoint_summarized_tokens_removed_total"] > 2 * 100_000
    attempts = [
        line
        for line in metrics.splitlines()
        if line.startswith('switchpoint_upstream_attempts_total{model="gpt-sum"')
    ]
    assert attempts and float(attempts[0].rsplit(" ", 1)[1]) == calls
