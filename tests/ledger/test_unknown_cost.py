"""A call whose cost the ledger holds unknown (an answer without a usage report) is
unknown everywhere else too: never $0 in the access log or the dashboard, never a
complete-looking cost on its trace, and counted as unpriced by `/metrics`."""

from __future__ import annotations

import io
import json

import orjson
import pytest

from switchpoint.observability.access_log import AccessLog
from tests.fakes import AcceptThenSilent, OpenAIFake, RawResponse
from tests.ledger.gateway_setup import (
    client,
    flush,
    gateway_config,
    impatient_openai,
    ledger_rows,
    serving,
)
from tests.observability.stack import http_get, scrape, value
from tests.observability.test_tracing import traced, wait_spans

# An OpenAI-compatible server that answers and reports no usage at all.
ANSWER = {
    "id": "chatcmpl-x",
    "object": "chat.completion",
    "created": 0,
    "model": "gpt-5.5",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}
    ],
}


def test_an_answer_without_usage_has_unknown_cost_in_logs_dashboard_traces_and_metrics(
    openai_fake: OpenAIFake, sqlite_url: str
) -> None:
    provider = impatient_openai(openai_fake)
    config = gateway_config(openai_fake, sqlite_url, providers={"openai": provider})
    log = io.BytesIO()
    with serving(config, openai_fake) as server:
        assert server.gateway is not None
        access_log = AccessLog(log)
        server.gateway.bus.subscribe(access_log)
        spans = traced(server)
        # The first attempt times out (billed for the prompt the vendor read, an estimate),
        # the fallback answers without usage: the call's cost is unknown.
        openai_fake.enqueue(AcceptThenSilent())
        openai_fake.enqueue(RawResponse(status=200, body=json.dumps(ANSWER).encode()))
        answer = client(server).chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "count these words " * 20}]
        )
        assert answer.choices[0].message.content == "hello"
        [root] = [s for s in wait_spans(spans, 3) if s.parent is None]
        flush(server)
        samples = scrape(server)
        _, _, body = http_get(server.base_url + "/ui/api/snapshot")
        access_log.flush()
    attempts = ledger_rows(
        sqlite_url, "SELECT model, outcome, cost_usd, cost_known FROM attempts ORDER BY seq"
    )
    assert [row[:2] for row in attempts] == [("gpt-5.5", "timeout"), ("gpt-5.4", "ok")]
    assert attempts[0][2] > 0 and attempts[1][2] is None and not attempts[1][3]
    [(cost, known)] = ledger_rows(sqlite_url, "SELECT cost_usd, cost_known FROM requests")
    assert cost is None and not known
    [line] = [orjson.loads(raw) for raw in log.getvalue().splitlines()]
    assert line["cost_usd"] is None
    assert orjson.loads(body)["recent"][0]["cost_usd"] is None
    assert "switchpoint.cost_usd" not in (root.attributes or {})
    # The timed-out attempt's estimate is counted; the answer's unknown cost is unpriced.
    assert value(samples, "switchpoint_cost_usd_total", model="gpt-5.5",
                 workload="terminal_agent") == pytest.approx(attempts[0][2])  # fmt: skip
    assert value(samples, "switchpoint_unpriced_attempts_total", model="gpt-5.4") == 1
