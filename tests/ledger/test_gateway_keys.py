"""Virtual keys and the master key through the gateway: who may call what, attribution,
revocation, keys created by the CLI while serving, and keys never leaking."""

from __future__ import annotations

import concurrent.futures
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
import yaml

from switchpoint.gateway import Gateway
from tests.fakes import OpenAIFake
from tests.ledger.gateway_setup import (
    client,
    flush,
    gateway_config,
    ledger_rows,
    serving,
)

MASTER = "sk-master-0123456789"
ADMIN = {"Authorization": f"Bearer {MASTER}"}
MESSAGES: list[Any] = [{"role": "user", "content": "hello"}]
REPO = Path(__file__).resolve().parents[2]


def chat(base_url: str, key: str | None, **headers: str) -> httpx2.Response:
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return httpx2.post(
        f"{base_url}/v1/chat/completions",
        json={"model": "auto", "messages": MESSAGES},
        headers=headers,
    )


def test_with_a_master_key_calls_need_a_key_and_are_attributed(
    ledger_url: str, openai_fake: OpenAIFake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "switchpoint")
    config = gateway_config(openai_fake, ledger_url)
    with serving(config, openai_fake, master_key=MASTER) as server:
        base = server.base_url
        with pytest.raises(openai.AuthenticationError) as raised:
            client(server, api_key="sk-whatever").chat.completions.create(
                model="auto", messages=MESSAGES
            )
        assert raised.value.status_code == 401
        missing = chat(base, None)
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "missing_api_key"

        assert httpx2.post(f"{base}/v1/keys", json={"team": "t"}).status_code == 401
        created = httpx2.post(
            f"{base}/v1/keys",
            json={"team": "search", "name": "crawler", "budget_usd": 50, "period": "week"},
            headers=ADMIN,
        )
        assert created.status_code == 200, created.text
        key = created.json()
        assert key["key"].startswith("sk-sp-") and key["team"] == "search"
        assert key["budget_usd"] == 50 and key["period"] == "week"

        # A virtual key is not an admin credential.
        forbidden = httpx2.get(f"{base}/v1/keys", headers={"x-api-key": key["key"]})
        assert forbidden.status_code == 403
        listed = httpx2.get(f"{base}/v1/keys", headers=ADMIN)
        assert listed.status_code == 200
        assert key["key"] not in listed.text
        assert [k["id"] for k in listed.json()["keys"]] == [key["id"]]

        served = client(server, api_key=key["key"]).chat.completions.create(
            model="auto", messages=MESSAGES
        )
        assert served.choices[0].message.content
        assert chat(base, MASTER).status_code == 200  # the master key may call too

        unknown = "sk-sp-0123456789ab-" + "s3cret" * 7
        missing = httpx2.delete(f"{base}/v1/keys/{unknown}", headers=ADMIN)
        assert missing.status_code == 404 and "s3cret" not in missing.text
        assert "'0123456789ab'" in missing.json()["error"]["message"]
        # A leaked key is revoked by pasting it whole.
        revoked = httpx2.delete(f"{base}/v1/keys/{key['key']}", headers=ADMIN)
        assert revoked.status_code == 200 and revoked.json()["active"] is False
        assert revoked.json()["id"] == key["id"] and key["key"] not in revoked.text
        refused = chat(base, key["key"])
        assert refused.status_code == 401
        assert refused.json()["error"]["message"] == f"virtual key {key['id']} has been revoked"
        assert httpx2.delete(f"{base}/v1/keys/nope", headers=ADMIN).status_code == 404
        flush(server)

    rows = ledger_rows(ledger_url, "SELECT key_id, team FROM requests ORDER BY ts")
    assert rows == [(key["id"], "search"), (None, None)]
    stored = ledger_rows(ledger_url, "SELECT key_hash FROM virtual_keys")
    assert key["key"] not in str(stored)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("switchpoint")]
    assert ours, "the gateway logged nothing at all"
    secret = key["key"][len("sk-sp-") + 13 :]
    assert all(secret not in message and MASTER not in message for message in ours)


def test_an_open_gateway_serves_keyless_calls_and_says_so(
    sqlite_url: str, openai_fake: OpenAIFake, caplog: pytest.LogCaptureFixture
) -> None:
    config = gateway_config(openai_fake, sqlite_url)
    caplog.set_level(logging.WARNING, "switchpoint")
    Gateway(config, environ={}).log_startup()
    assert any("runs open" in r.getMessage() for r in caplog.records)
    with serving(config, openai_fake) as server:
        base = server.base_url
        assert chat(base, "sk-some-provider-key").status_code == 200
        assert chat(base, None).status_code == 200
        created = httpx2.post(f"{base}/v1/keys", json={"team": "open"})
        assert created.status_code == 200
        key = created.json()["key"]
        assert chat(base, key).status_code == 200
        # A forged or mistyped switchpoint key is refused, not silently served unattributed.
        forged = key[:-4] + "AAAA"
        assert chat(base, forged).status_code == 401
        flush(server)
    assert ledger_rows(sqlite_url, "SELECT team FROM requests WHERE team IS NOT NULL") == [
        ("open",)
    ]


def test_a_key_created_with_the_cli_works_on_a_running_gateway(
    tmp_path: Path, openai_fake: OpenAIFake
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    config_file = tmp_path / "switchpoint.yaml"
    config_file.write_text(yaml.safe_dump({"ledger": {"url": url}}))
    config = gateway_config(openai_fake, url, ledger={"sync_interval_s": 3600})
    with serving(config, openai_fake, master_key=MASTER) as server:
        created = subprocess.run(
            [sys.executable, "-m", "switchpoint", "keys", "create", "--team", "cli",
             "--budget-usd", "100", "--period", "month", "--config", str(config_file)],
            cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip()
        assert key.startswith("sk-sp-")
        assert "shown only this once" in created.stderr
        # The gateway has never seen this key (and its sync is an hour away): a burst of
        # calls with it shares one reload, and every one of them is served.
        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            statuses = list(pool.map(lambda _: chat(server.base_url, key).status_code, range(10)))
        assert statuses == [200] * 10


def test_tasks_and_outcomes_belong_to_the_team_that_ran_them(
    sqlite_url: str, openai_fake: OpenAIFake
) -> None:
    config = gateway_config(openai_fake, sqlite_url)
    with serving(config, openai_fake, master_key=MASTER) as server:
        base = server.base_url
        keys = {
            team: httpx2.post(f"{base}/v1/keys", json={"team": team}, headers=ADMIN).json()["key"]
            for team in ("red", "blue")
        }
        assert chat(base, keys["red"], **{"X-Switchpoint-Task-Id": "red-task"}).status_code == 200
        outcome = {"task_id": "red-task", "outcome": "success", "kind": "ci_pass"}
        stolen = httpx2.post(
            f"{base}/v1/outcomes", json=outcome, headers={"x-api-key": keys["blue"]}
        )
        assert stolen.status_code == 403
        peek = httpx2.get(f"{base}/v1/tasks/red-task", headers={"x-api-key": keys["blue"]})
        assert peek.status_code == 403
        own = httpx2.post(f"{base}/v1/outcomes", json=outcome, headers={"x-api-key": keys["red"]})
        assert own.status_code == 200
        assert httpx2.post(f"{base}/v1/outcomes", json=outcome).status_code == 401
        task = httpx2.get(f"{base}/v1/tasks/red-task", headers={"x-api-key": keys["red"]})
        assert task.status_code == 200 and task.json()["team"] == "red"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"team": ""},
        {"team": "t", "budget_usd": -1},
        {"team": "t", "budget_usd": "ten"},
        {"team": "t", "period": "fortnight"},
        {"team": "t", "owner": "me"},
    ],
)
def test_bad_key_requests_are_a_clear_400(
    body: dict[str, Any], sqlite_url: str, openai_fake: OpenAIFake
) -> None:
    config = gateway_config(openai_fake, sqlite_url)
    with serving(config, openai_fake, master_key=MASTER) as server:
        response = httpx2.post(f"{server.base_url}/v1/keys", json=body, headers=ADMIN)
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request_error"
