"""A virtual key of one team cannot act on another team's task through the chat endpoint.

`GET /v1/tasks/{id}` and `POST /v1/outcomes` already refused it, but a chat call with
another team's `X-Switchpoint-Task-Id` was served: its spend went to that task, and a
task budget header on it re-declared the task's budget (down to 1 token, so that the
owner's next call was refused). Found by a security probe."""

from __future__ import annotations

import threading
from typing import Any

import httpx2

from tests.fakes import OpenAIFake
from tests.ledger.gateway_setup import (
    MASTER_KEY,
    create_key,
    flush,
    gateway_config,
    ledger_rows,
    serving,
)

MESSAGES = [{"role": "user", "content": "hello"}]
TASK = "X-Switchpoint-Task-Id"


def new_key(base: str, team: str) -> str:
    key: str = create_key(base, team=team)["key"]
    return key


def chat(base: str, key: str, **headers: str) -> httpx2.Response:
    return httpx2.post(
        f"{base}/v1/chat/completions",
        json={"model": "auto", "messages": MESSAGES},
        headers={"Authorization": f"Bearer {key}", **headers},
        timeout=30,
    )


def task_summary(base: str, key: str, task_id: str) -> dict[str, Any]:
    answer = httpx2.get(f"{base}/v1/tasks/{task_id}", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text
    summary: dict[str, Any] = answer.json()
    return summary


def test_another_teams_call_on_a_task_is_refused_and_changes_nothing(
    ledger_url: str, openai_fake: OpenAIFake
) -> None:
    with serving(
        gateway_config(openai_fake, ledger_url), openai_fake, master_key=MASTER_KEY
    ) as server:
        base = server.base_url
        alpha, beta = new_key(base, "alpha"), new_key(base, "beta")
        assert chat(base, alpha, **{TASK: "alpha-task"}).status_code == 200
        hijack = chat(base, beta, **{TASK: "alpha-task", "X-Switchpoint-Task-Budget-Tokens": "1"})
        assert hijack.status_code == 403, hijack.text
        assert "belongs to another team" in hijack.json()["error"]["message"]
        # The owner is unaffected: its next call is served, its task has only its calls.
        assert chat(base, alpha, **{TASK: "alpha-task"}).status_code == 200
        # The master key acts on any task; a new task is the first caller's.
        assert chat(base, MASTER_KEY, **{TASK: "alpha-task"}).status_code == 200
        assert chat(base, beta, **{TASK: "beta-task"}).status_code == 200
        flush(server)
        summary = task_summary(base, alpha, "alpha-task")
        assert summary["calls"] == 3
        assert summary["budget"] is None  # none was ever declared for it
    assert ledger_rows(ledger_url, "SELECT team, calls FROM tasks ORDER BY task_id") == [
        ("alpha", 3),
        ("beta", 1),
    ]


def test_a_worker_that_never_saw_the_task_reads_its_team_from_the_ledger(
    sqlite_url: str, openai_fake: OpenAIFake
) -> None:
    config = gateway_config(openai_fake, sqlite_url)
    with serving(config, openai_fake, master_key=MASTER_KEY) as first:
        alpha, beta = new_key(first.base_url, "alpha"), new_key(first.base_url, "beta")
        assert chat(first.base_url, alpha, **{TASK: "shared-db-task"}).status_code == 200
        flush(first)
        with serving(config, openai_fake, master_key=MASTER_KEY) as second:
            refused = chat(second.base_url, beta, **{TASK: "shared-db-task"})
            assert refused.status_code == 403, refused.text
            assert chat(second.base_url, alpha, **{TASK: "shared-db-task"}).status_code == 200


def test_a_task_of_no_team_may_be_joined_by_any_team(
    ledger_url: str, openai_fake: OpenAIFake
) -> None:
    # Calls made with the master key (or a key of no team) leave the task's team unset,
    # as `GET /v1/tasks` and `POST /v1/outcomes` have always treated it.
    config = gateway_config(openai_fake, ledger_url)
    with serving(config, openai_fake, master_key=MASTER_KEY) as first:
        assert chat(first.base_url, MASTER_KEY, **{TASK: "open-task"}).status_code == 200
        alpha = new_key(first.base_url, "alpha")
        flush(first)
        with serving(config, openai_fake, master_key=MASTER_KEY) as second:
            assert chat(second.base_url, alpha, **{TASK: "open-task"}).status_code == 200


def race(base: str, keys: list[str], task_id: str) -> list[int]:
    """The statuses of calls on `task_id`, one per key, sent at the same moment."""
    start = threading.Barrier(len(keys))
    statuses: list[int] = []

    def call(key: str) -> None:
        start.wait(timeout=10)
        statuses.append(chat(base, key, **{TASK: task_id}).status_code)

    threads = [threading.Thread(target=call, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return statuses


def test_two_teams_racing_for_a_new_task_do_not_both_get_it(
    sqlite_url: str, openai_fake: OpenAIFake
) -> None:
    # Both calls may read the ledger (no call of the task yet) at once: the first to
    # come back settles the task's team for the other.
    with serving(
        gateway_config(openai_fake, sqlite_url), openai_fake, master_key=MASTER_KEY
    ) as server:
        base = server.base_url
        keys = [new_key(base, "alpha"), new_key(base, "beta")]
        for round_ in range(5):
            statuses = race(base, keys, f"contested-{round_}")
            assert sorted(statuses) == [200, 403], (round_, statuses)
