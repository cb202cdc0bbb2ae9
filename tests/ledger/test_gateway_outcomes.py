"""`POST /v1/outcomes`, `GET /v1/tasks/{id}` and `GET /v1/reports/outcomes`: bad input,
idempotency, outcomes that arrive before their task's calls, and admin access."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tests.fakes import OpenAIFake
from tests.ledger.gateway_setup import gateway_config, serving, usd

MESSAGES: list[Any] = [{"role": "user", "content": "hello"}]


def chat(base: str, task: str) -> None:
    response = httpx2.post(
        f"{base}/v1/chat/completions",
        json={"model": "auto", "messages": MESSAGES},
        headers={"X-Switchpoint-Task-Id": task},
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"outcome": "success", "kind": "ci_pass"}, "task_id"),
        ({"task_id": "", "outcome": "success", "kind": "ci_pass"}, "task_id"),
        ({"task_id": "x" * 201, "outcome": "success", "kind": "ci_pass"}, "task_id"),
        ({"task_id": "a\nb", "outcome": "success", "kind": "ci_pass"}, "task_id"),
        ({"task_id": 42, "outcome": "success", "kind": "ci_pass"}, "task_id"),
        ({"task_id": "t", "outcome": "merged", "kind": "ci_pass"}, "outcome"),
        ({"task_id": "t", "outcome": "SUCCESS", "kind": "ci_pass"}, "outcome"),
        ({"task_id": "t", "kind": "ci_pass"}, "outcome"),
        ({"task_id": "t", "outcome": "success"}, "kind"),
        ({"task_id": "t", "outcome": "success", "kind": ""}, "kind"),
        ({"task_id": "t", "outcome": "success", "kind": "ci_pass", "value": -1}, "value"),
        ({"task_id": "t", "outcome": "success", "kind": "ci_pass", "value": "9"}, "value"),
        ({"task_id": "t", "outcome": "success", "kind": "ci_pass", "value": True}, "value"),
        ({"task_id": "t", "outcome": "success", "kind": "ci_pass", "extra": 1}, "extra"),
    ],
)
def test_malformed_outcomes_are_a_clear_400(
    body: dict[str, Any], param: str, sqlite_url: str, openai_fake: OpenAIFake
) -> None:
    config = gateway_config(openai_fake, sqlite_url)
    with serving(config, openai_fake) as server:
        response = httpx2.post(f"{server.base_url}/v1/outcomes", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


def test_non_json_bodies_are_a_clear_400(sqlite_url: str, openai_fake: OpenAIFake) -> None:
    config = gateway_config(openai_fake, sqlite_url)
    with serving(config, openai_fake) as server:
        for content in (b"", b"{not json", b"[1, 2]"):
            response = httpx2.post(f"{server.base_url}/v1/outcomes", content=content)
            assert response.status_code == 400
            assert "JSON" in response.json()["error"]["message"]


def test_outcomes_are_idempotent_per_task_and_kind(
    ledger_url: str, openai_fake: OpenAIFake
) -> None:
    config = gateway_config(openai_fake, ledger_url)
    with serving(config, openai_fake) as server:
        base = server.base_url
        post = {"task_id": "t1", "outcome": "failure", "kind": "ci_pass", "value": 0}
        first = httpx2.post(f"{base}/v1/outcomes", json=post).json()
        again = httpx2.post(f"{base}/v1/outcomes", json=post).json()
        assert first["status"] == "created" and again["status"] == "unchanged"
        assert again["recorded_at"] == first["recorded_at"]
        fixed = httpx2.post(f"{base}/v1/outcomes", json={**post, "outcome": "success"}).json()
        assert fixed["status"] == "updated" and fixed["outcome"] == "success"
        other = {"task_id": "t1", "outcome": "success", "kind": "pr_merged", "value": 1200.5}
        assert httpx2.post(f"{base}/v1/outcomes", json=other).json()["status"] == "created"
        task = httpx2.get(f"{base}/v1/tasks/t1").json()
        assert task["calls"] == 0
        assert [(o["kind"], o["outcome"], o["value"]) for o in task["outcomes"]] == [
            ("ci_pass", "success", 0.0),
            ("pr_merged", "success", 1200.5),
        ]


def test_an_outcome_posted_before_its_calls_counts_once_they_arrive(
    sqlite_url: str, openai_fake: OpenAIFake
) -> None:
    openai_fake.input_tokens = 300
    openai_fake.output_tokens = 30
    config = gateway_config(openai_fake, sqlite_url)
    with serving(config, openai_fake) as server:
        base = server.base_url
        early = {"task_id": "early", "outcome": "success", "kind": "issue_resolved"}
        assert httpx2.post(f"{base}/v1/outcomes", json=early).status_code == 200
        report = httpx2.get(f"{base}/v1/reports/outcomes", params={"by": "task_kind"}).json()
        assert report["groups"] == []
        for _ in range(3):
            chat(base, "early")
        report = httpx2.get(f"{base}/v1/reports/outcomes", params={"by": "task_kind"}).json()
        [group] = report["groups"]
        assert group["key"] == "issue_resolved"
        assert group["completed_outcomes"] == 1
        assert group["cost_per_completed_outcome"] == pytest.approx(3 * usd("gpt-5.5", 300, 30))


def test_unknown_and_malformed_task_ids(sqlite_url: str, openai_fake: OpenAIFake) -> None:
    config = gateway_config(openai_fake, sqlite_url)
    with serving(config, openai_fake) as server:
        missing = httpx2.get(f"{server.base_url}/v1/tasks/never-seen")
        assert missing.status_code == 404
        assert missing.json()["error"]["type"] == "not_found_error"
        chat(server.base_url, "with space")
        spaced = httpx2.get(f"{server.base_url}/v1/tasks/with%20space")
        assert spaced.status_code == 200 and spaced.json()["calls"] == 1
        bad = httpx2.get(f"{server.base_url}/v1/tasks/%0A")
        assert bad.status_code == 400


def test_reports_need_the_master_key_and_valid_parameters(
    sqlite_url: str, openai_fake: OpenAIFake
) -> None:
    config = gateway_config(openai_fake, sqlite_url)
    with serving(config, openai_fake, master_key="master") as server:
        url = f"{server.base_url}/v1/reports/outcomes"
        admin = {"Authorization": "Bearer master"}
        assert httpx2.get(url).status_code == 401
        assert httpx2.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
        for params in ({"since": "yesterday"}, {"by": "colour"}, {"sort": "cost"}):
            response = httpx2.get(url, params=params, headers=admin)
            assert response.status_code == 400, params
            assert response.json()["error"]["param"] in ("since", "by", "sort")
        for by in ("workload", "model", "team", "task_kind", "task-kind"):
            response = httpx2.get(url, params={"by": by, "since": "2h"}, headers=admin)
            assert response.status_code == 200
            assert response.json()["groups"] == []
            assert response.json()["by"] == by.replace("-", "_")
