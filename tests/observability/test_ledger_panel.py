"""With a ledger attached: its queue on /metrics, and cost per completed outcome on the
dashboard's data (from the ledger's own report)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.fakes import OpenAIFake
from tests.observability.stack import (
    client,
    gateway_config,
    http_get,
    running_gateway,
    scrape,
    value,
)

USER: list[Any] = [{"role": "user", "content": "hello"}]


@pytest.fixture
def backup_fake() -> Iterator[OpenAIFake]:
    with OpenAIFake() as fake:
        yield fake


def post_json(url: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(
        url, data=orjson.dumps(body), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_ledger_queue_and_cost_per_completed_outcome(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake, tmp_path: Path
) -> None:
    openai_fake.input_tokens, openai_fake.output_tokens = 1000, 100
    config = gateway_config(openai_fake, backup_fake, ledger_path=tmp_path / "ledger.db")
    with running_gateway(config) as server:
        sdk = client(server)
        for task in ("t-1", "t-1", "t-2"):
            sdk.chat.completions.create(
                model="primary", messages=USER, extra_headers={"x-switchpoint-task-id": task}
            )
        assert (
            post_json(
                server.base_url + "/v1/outcomes",
                {"task_id": "t-1", "outcome": "success", "kind": "tests_pass"},
            )
            == 200
        )
        assert (
            post_json(
                server.base_url + "/v1/outcomes",
                {"task_id": "t-2", "outcome": "failure", "kind": "tests_pass"},
            )
            == 200
        )
        deadline = time.monotonic() + 15
        while True:
            _, _, body = http_get(server.base_url + "/ui/api/snapshot")
            ledger = orjson.loads(body)["ledger"]
            groups = {g["key"]: g for g in ledger.get("by_workload", [])}
            done = groups.get("primary", {}).get("tasks") == 2 and ledger["written"] >= 3
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.5)  # the reports are cached for a few seconds
        samples = scrape(server)
    assert ledger["available"] is True and ledger["dropped"] == 0
    assert ledger["written"] >= 3 and ledger["database"].startswith("sqlite")
    primary = groups["primary"]
    assert primary["tasks"] == 2 and primary["completed_outcomes"] == 1
    # Three calls of 1000 in / 100 out at $1/$2 per M; one task succeeded.
    assert primary["cost_per_completed_outcome"] == pytest.approx(3 * 1200 / 1e6)
    assert [g["key"] for g in ledger["by_model"]] == ["gpt-primary"]
    assert value(samples, "switchpoint_ledger_available") == 1
    assert value(samples, "switchpoint_ledger_queue_depth") == 0
    assert value(samples, "switchpoint_ledger_written_records_total") >= 3
    assert value(samples, "switchpoint_ledger_dropped_records_total", reason="queue_full") == 0
