"""`/metrics` after scripted traffic through fake upstreams: exact counts."""

from __future__ import annotations

import gc
import re
import threading
import time
from typing import Any

import openai
import pytest

from tests.fakes import CutAfter, InvalidEvent, OpenAIFake, ServerError
from tests.observability.stack import (
    client,
    gateway_config,
    http_get,
    running_gateway,
    scrape,
    total,
    value,
    wait_for,
)

USER: list[Any] = [{"role": "user", "content": "hello"}]
PRIMARY = {"workload": "primary", "profile": "primary", "provider": "main", "model": "gpt-primary"}
VIA_BACKUP = {
    "workload": "primary",
    "profile": "backup",
    "provider": "backup",
    "model": "gpt-backup",
}


@pytest.fixture
def backup_fake() -> Any:
    with OpenAIFake() as fake:
        yield fake


def test_successful_requests_count_tokens_cost_and_latency(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake
) -> None:
    openai_fake.input_tokens, openai_fake.output_tokens, openai_fake.cached_tokens = 100, 20, 30
    with running_gateway(gateway_config(openai_fake, backup_fake)) as server:
        sdk = client(server)
        for _ in range(3):
            sdk.chat.completions.create(model="primary", messages=USER)
        chunks = list(sdk.chat.completions.create(model="primary", messages=USER, stream=True))
        assert chunks
        samples = wait_for(server, "switchpoint_requests_total", 4, **PRIMARY, status="ok")

    assert value(samples, "switchpoint_requests_total", **PRIMARY, status="ok") == 4
    assert total(samples, "switchpoint_requests_total") == 4
    assert value(samples, "switchpoint_request_duration_seconds_count", **PRIMARY) == 4
    assert value(samples, "switchpoint_request_duration_seconds_bucket", **PRIMARY, le="+Inf") == 4
    assert value(samples, "switchpoint_request_duration_seconds_sum", **PRIMARY) > 0
    # Only the stream has a time to first token.
    ttft = {"workload": "primary", "provider": "main", "model": "gpt-primary"}
    assert value(samples, "switchpoint_time_to_first_token_seconds_count", **ttft) == 1
    assert (
        value(
            samples,
            "switchpoint_upstream_attempts_total",
            provider="main",
            model="gpt-primary",
            outcome="ok",
        )
        == 4
    )
    assert (
        value(
            samples,
            "switchpoint_upstream_attempt_duration_seconds_count",
            provider="main",
            model="gpt-primary",
        )
        == 4
    )
    tokens = {"model": "gpt-primary", "workload": "primary"}
    assert value(samples, "switchpoint_tokens_total", **tokens, kind="input") == 4 * 70
    assert value(samples, "switchpoint_tokens_total", **tokens, kind="cached") == 4 * 30
    assert value(samples, "switchpoint_tokens_total", **tokens, kind="output") == 4 * 20
    # 70 uncached at $1/M, 30 cached at $0.1/M, 20 output at $2/M, four times.
    assert value(samples, "switchpoint_cost_usd_total", **tokens) == pytest.approx(
        4 * (70 * 1.0 + 30 * 0.1 + 20 * 2.0) / 1e6
    )
    assert total(samples, "switchpoint_fallbacks_total") == 0
    assert value(samples, "switchpoint_in_flight_requests") == 0


def test_retry_is_counted_by_the_failure_that_caused_it(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake
) -> None:
    openai_fake.enqueue(ServerError())
    config = gateway_config(openai_fake, backup_fake, fallback={"max_retries": 2})
    with running_gateway(config) as server:
        client(server).chat.completions.create(model="primary", messages=USER)
        samples = scrape(server)
    target = {"provider": "main", "model": "gpt-primary"}
    assert value(samples, "switchpoint_retries_total", **target, reason="server_error") == 1
    assert (
        value(samples, "switchpoint_upstream_attempts_total", **target, outcome="server_error") == 1
    )
    assert value(samples, "switchpoint_upstream_attempts_total", **target, outcome="ok") == 1
    assert value(samples, "switchpoint_requests_total", **PRIMARY, status="ok") == 1
    assert total(samples, "switchpoint_fallbacks_total") == 0


def test_outage_fails_over_then_trips_the_breaker(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake
) -> None:
    """min_requests 3, threshold 50%, no retries: three failed requests open the breaker;
    the fourth skips the open target without an upstream attempt."""
    openai_fake.down(model="gpt-primary")
    with running_gateway(gateway_config(openai_fake, backup_fake)) as server:
        sdk = client(server)
        before = scrape(server)
        for _ in range(4):
            answer = sdk.chat.completions.with_raw_response.create(model="primary", messages=USER)
            assert answer.headers["x-switchpoint-model"] == "gpt-backup"
        samples = scrape(server)
    primary = {"provider": "main", "model": "gpt-primary"}
    backup = {"provider": "backup", "model": "gpt-backup"}
    assert value(before, "switchpoint_circuit_breaker_state", **primary) == 0
    assert value(samples, "switchpoint_circuit_breaker_state", **primary) == 2
    assert value(samples, "switchpoint_circuit_breaker_state", **backup) == 0
    assert (
        value(
            samples,
            "switchpoint_circuit_breaker_transitions_total",
            **primary,
            **{"from": "closed", "to": "open"},
        )
        == 1
    )
    assert total(samples, "switchpoint_circuit_breaker_transitions_total") == 1
    assert (
        value(samples, "switchpoint_upstream_attempts_total", **primary, outcome="overloaded") == 3
    )
    assert value(samples, "switchpoint_upstream_attempts_total", **backup, outcome="ok") == 4
    assert value(samples, "switchpoint_fallbacks_total", reason="upstream_error") == 3
    assert value(samples, "switchpoint_fallbacks_total", reason="breaker_open") == 1
    assert total(samples, "switchpoint_fallbacks_total") == 4
    assert value(samples, "switchpoint_fallback_requests_total", workload="primary") == 4
    assert value(samples, "switchpoint_requests_total", **VIA_BACKUP, status="ok") == 4
    assert total(samples, "switchpoint_retries_total") == 0
    # A fallback's tokens and cost belong to the model that consumed them.
    assert value(samples, "switchpoint_cost_usd_total", model="gpt-backup", workload="primary") > 0
    assert (
        value(samples, "switchpoint_cost_usd_total", model="gpt-primary", workload="primary") == 0
    )


def test_routing_fallbacks_and_rules(openai_fake: OpenAIFake, backup_fake: OpenAIFake) -> None:
    with running_gateway(gateway_config(openai_fake, backup_fake)) as server:
        sdk = client(server)
        sdk.chat.completions.create(
            model="primary",
            messages=USER,
            extra_headers={"x-switchpoint-context-tokens": "700000"},
        )
        for _ in range(2):
            raw = sdk.chat.completions.with_raw_response.create(
                model="primary", messages=USER, extra_headers={"x-switchpoint-budget": "0.2"}
            )
            # Moved before any attempt: the rule that moved it says why.
            assert raw.headers["x-switchpoint-fallback"] == "true"
            assert raw.headers["x-switchpoint-rules"] == "budget_fallback"
            assert "x-switchpoint-fallback-reasons" not in raw.headers  # no execution move
        samples = scrape(server)
    assert value(samples, "switchpoint_fallbacks_total", reason="context_guard") == 1
    assert value(samples, "switchpoint_fallbacks_total", reason="budget") == 2
    assert (
        value(samples, "switchpoint_routing_rules_total", workload="primary", rule="context_guard")
        == 1
    )
    assert (
        value(
            samples, "switchpoint_routing_rules_total", workload="primary", rule="budget_fallback"
        )
        == 2
    )
    assert (
        value(
            samples,
            "switchpoint_requests_total",
            workload="primary",
            profile="long",
            provider="main",
            model="gpt-long",
            status="ok",
        )
        == 1
    )
    assert value(samples, "switchpoint_requests_total", **VIA_BACKUP, status="ok") == 2
    assert value(samples, "switchpoint_fallback_requests_total", workload="primary") == 3
    # effectiveMaxTokens: 700000 capped at nothing (long holds 1M), the others estimated.
    assert value(samples, "switchpoint_effective_max_tokens_count", workload="primary") == 3
    assert (
        value(samples, "switchpoint_effective_max_tokens_bucket", workload="primary", le="600000.0")
        == 2
    )


def test_client_errors_are_counted_without_a_target(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake
) -> None:
    with running_gateway(gateway_config(openai_fake, backup_fake)) as server:
        sdk = client(server)
        with pytest.raises(openai.BadRequestError):
            sdk.chat.completions.create(
                model="primary",
                messages=USER,
                extra_headers={"x-switchpoint-workload": "no-such-workload"},
            )
        with pytest.raises(openai.BadRequestError):
            sdk.chat.completions.create(
                model="primary", messages=USER, extra_headers={"x-switchpoint-budget": "2"}
            )
        samples = scrape(server)
    assert (
        value(
            samples,
            "switchpoint_requests_total",
            workload="none",
            profile="none",
            provider="none",
            model="none",
            status="client_error",
        )
        == 2
    )
    assert total(samples, "switchpoint_upstream_attempts_total") == 0


def test_upstream_failure_without_fallback_is_an_upstream_error(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake
) -> None:
    openai_fake.down(model="gpt-primary")
    backup_fake.down(model="gpt-backup")
    with running_gateway(gateway_config(openai_fake, backup_fake)) as server:
        with pytest.raises(openai.APIStatusError):
            client(server).chat.completions.create(model="primary", messages=USER)
        samples = scrape(server)
    # Reported under the last target tried.
    assert value(samples, "switchpoint_requests_total", **VIA_BACKUP, status="upstream_error") == 1
    assert value(samples, "switchpoint_fallbacks_total", reason="upstream_error") == 1
    assert value(samples, "switchpoint_fallback_requests_total", workload="primary") == 0


def test_in_flight_requests_while_an_upstream_is_slow(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake
) -> None:
    openai_fake.header_delay = 1.5
    with running_gateway(gateway_config(openai_fake, backup_fake)) as server:
        sdk = client(server)
        threads = [
            threading.Thread(
                target=lambda: sdk.chat.completions.create(model="primary", messages=USER)
            )
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        assert openai_fake.wait_for_requests(2, timeout=5)
        during = scrape(server)
        for thread in threads:
            thread.join()
        after = scrape(server)
    assert value(during, "switchpoint_in_flight_requests") == 2
    assert value(after, "switchpoint_in_flight_requests") == 0


def test_exposition_follows_prometheus_conventions(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake
) -> None:
    openai_fake.down(model="gpt-primary")
    with running_gateway(gateway_config(openai_fake, backup_fake)) as server:
        sdk = client(server)
        for _ in range(4):
            sdk.chat.completions.create(
                model="primary",
                messages=USER,
                extra_headers={"x-switchpoint-task-id": "task-123456"},
            )
        status, headers, body = http_get(server.base_url + "/metrics")
        _, om_headers, om_body = http_get(
            server.base_url + "/metrics",
            {"accept": "application/openmetrics-text; version=1.0.0; charset=utf-8"},
        )
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    assert om_headers["content-type"].startswith("application/openmetrics-text")
    assert om_body.rstrip().endswith(b"# EOF")
    text = body.decode()
    names = set(re.findall(r"^# TYPE (\S+) (\S+)", text, re.M))
    ours = {(n, t) for n, t in names if n.startswith("switchpoint_")}
    assert len(ours) >= 15
    for name, kind in ours:
        assert re.fullmatch(r"switchpoint_[a-z0-9_]+", name), name
        if kind == "counter":
            assert name.endswith("_total"), name
        if kind == "histogram":
            assert name.endswith(("_seconds", "_tokens")), name
    # Ids never become label values.
    assert "sp-" not in text and "task-123456" not in text
    # The process' own health is there too.
    assert "process_resident_memory_bytes" in text


def test_scrape_stays_fast_with_many_series(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake
) -> None:
    """Not a timing assertion on the gateway: a bound on a scrape's size and cost in
    orders of magnitude, so a label that leaks cardinality is caught."""
    with running_gateway(gateway_config(openai_fake, backup_fake)) as server:
        sdk = client(server)
        for index in range(30):
            sdk.chat.completions.create(
                model="primary",
                messages=[{"role": "user", "content": f"q{index}"}],
                extra_headers={"x-switchpoint-task-id": f"t{index}"},
            )
        started = time.monotonic()
        _, _, body = http_get(server.base_url + "/metrics")
        elapsed = time.monotonic() - started
    series = [line for line in body.decode().splitlines() if line.startswith("switchpoint_")]
    assert len(series) < 200
    assert elapsed < 5


def test_stream_resilience_events_have_their_own_series(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake
) -> None:
    """A malformed event is skipped and counted; a stream cut mid-answer that no target
    can continue (none accepts a prefill here) is counted as a failed continuation."""
    openai_fake.stream_chunks = 6
    openai_fake.enqueue(InvalidEvent(after=2))
    with running_gateway(gateway_config(openai_fake, backup_fake)) as server:
        sdk = client(server)
        list(sdk.chat.completions.create(model="primary", messages=USER, stream=True))
        openai_fake.enqueue(CutAfter(events=3))
        with pytest.raises(openai.APIError):
            list(sdk.chat.completions.create(model="primary", messages=USER, stream=True))
        samples = wait_for(
            server, "switchpoint_requests_total", 1, **PRIMARY, status="upstream_error"
        )
    target = {"provider": "main", "model": "gpt-primary"}
    assert value(samples, "switchpoint_stream_malformed_events_total", **target) == 1
    assert value(samples, "switchpoint_requests_total", **PRIMARY, status="ok") == 1
    assert total(samples, "switchpoint_stream_continuations_total", result="failed") == 1
    assert total(samples, "switchpoint_stream_continuations_total", result="succeeded") == 0
    assert total(samples, "switchpoint_resilience_events_total") == 0


def test_metrics_and_dashboard_answer_while_requests_hang(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake
) -> None:
    """Scrapes and dashboard polls never wait on request handling: with 30 requests held
    by a slow upstream, both answer well before any of those requests could."""
    openai_fake.header_delay = 4.0
    with running_gateway(gateway_config(openai_fake, backup_fake)) as server:
        sdk = client(server)
        threads = [
            threading.Thread(
                target=lambda: sdk.chat.completions.create(model="primary", messages=USER)
            )
            for _ in range(30)
        ]
        for thread in threads:
            thread.start()
        assert openai_fake.wait_for_requests(30, timeout=10)
        started = time.monotonic()
        samples = scrape(server)
        snapshot_status = http_get(server.base_url + "/ui/api/snapshot")[0]
        elapsed = time.monotonic() - started
        for thread in threads:
            thread.join()
    assert value(samples, "switchpoint_in_flight_requests") == 30
    assert snapshot_status == 200
    assert elapsed < 2.0  # the held requests take 4 s


def test_garbage_collections_are_timed_while_the_server_runs(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake
) -> None:
    callbacks_before = len(gc.callbacks)
    with running_gateway(gateway_config(openai_fake, backup_fake)) as server:
        before = scrape(server)
        gc.collect(2)
        after = scrape(server)
    oldest = {"generation": "2"}
    assert value(after, "switchpoint_gc_pause_seconds_count", **oldest) >= (
        value(before, "switchpoint_gc_pause_seconds_count", **oldest) + 1
    )
    assert value(after, "switchpoint_gc_pause_seconds_sum", **oldest) > 0
    # The server's callback leaves with it.
    assert len(gc.callbacks) == callbacks_before
