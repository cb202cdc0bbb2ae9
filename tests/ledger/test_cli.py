"""`switchpoint keys` and `switchpoint report`, run as the commands a user types."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml

from tests.fakes import OpenAIFake
from tests.ledger.gateway_setup import gateway_config, serving

REPO = Path(__file__).resolve().parents[2]


def switchpoint(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "switchpoint", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        check=False,
    )


def config_for(tmp_path: Path, url: str, **extra: Any) -> Path:
    path = tmp_path / "switchpoint.yaml"
    path.write_text(yaml.safe_dump({"ledger": {"url": url}, **extra}))
    return path


def test_keys_create_list_revoke(postgres_url: str, tmp_path: Path) -> None:
    config = str(config_for(tmp_path, postgres_url))
    created = switchpoint(
        "keys", "create", "--team", "infra", "--budget-usd", "100", "--period", "month",
        "--name", "ci", "--config", config,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("sk-sp-") and "\n" not in key
    assert "budget $100.00 per month" in created.stderr
    as_json = switchpoint(
        "keys", "create", "--team", "infra", "--format", "json", "--config", config
    )
    second = json.loads(as_json.stdout)
    assert second["key"].startswith("sk-sp-") and second["budget_usd"] is None

    revoked = switchpoint("keys", "revoke", second["id"], "--config", config)
    assert revoked.returncode == 0
    listed = switchpoint("keys", "list", "--format", "json", "--config", config)
    keys = json.loads(listed.stdout)["keys"]
    assert [(k["team"], k["budget_usd"], k["period"], k["active"]) for k in keys] == [
        ("infra", 100.0, "month", True),
        ("infra", None, "month", False),
    ]
    assert key not in listed.stdout and second["key"] not in listed.stdout
    table = switchpoint("keys", "list", "--config", config)
    assert "infra" in table.stdout and "$100.00" in table.stdout and "revoked" in table.stdout


def test_keys_revoke_takes_the_whole_key_and_never_prints_a_secret(tmp_path: Path) -> None:
    config = str(config_for(tmp_path, f"sqlite:///{tmp_path / 'l.db'}"))
    created = switchpoint("keys", "create", "--team", "t", "--format", "json", "--config", config)
    key = json.loads(created.stdout)
    # An operator revoking a leaked key pastes the key itself.
    revoked = switchpoint("keys", "revoke", key["key"], "--config", config)
    assert revoked.returncode == 0, revoked.stderr
    assert key["id"] in revoked.stderr and key["key"] not in revoked.stderr + revoked.stdout
    listed = json.loads(switchpoint("keys", "list", "--format", "json", "--config", config).stdout)
    assert [k["active"] for k in listed["keys"]] == [False]
    # A key that does not exist is named by its id; a value of neither shape not at all.
    unknown = "sk-sp-0123456789ab-" + "s3cret" * 7
    missing = switchpoint("keys", "revoke", unknown, "--config", config)
    assert missing.returncode == 1 and "'0123456789ab'" in missing.stderr
    assert "s3cret" not in missing.stderr + missing.stdout
    garbled = switchpoint("keys", "revoke", "hunter2-password", "--config", config)
    assert garbled.returncode == 1 and "hunter2" not in garbled.stderr + garbled.stdout


def test_keys_create_rejects_bad_settings(tmp_path: Path) -> None:
    config = str(config_for(tmp_path, f"sqlite:///{tmp_path / 'l.db'}"))
    bad_period = switchpoint(
        "keys", "create", "--team", "t", "--period", "fortnight", "--config", config
    )
    assert bad_period.returncode == 2
    assert "day, week, month or total" in bad_period.stderr
    negative = switchpoint(
        "keys", "create", "--team", "t", "--budget-usd", "-1", "--config", config
    )
    assert negative.returncode == 2


def test_commands_say_when_the_ledger_is_unreachable_or_disabled(
    tmp_path: Path, refused_port: int
) -> None:
    down = config_for(tmp_path, f"postgresql://postgres@127.0.0.1:{refused_port}/test")
    result = switchpoint("report", "--config", str(down))
    assert result.returncode == 1
    assert "is unavailable" in result.stderr
    assert "Traceback" not in result.stderr
    off = tmp_path / "off.yaml"
    off.write_text(yaml.safe_dump({"ledger": {"enabled": False}}))
    result = switchpoint("keys", "list", "--config", str(off))
    assert result.returncode == 2
    assert "disabled" in result.stderr


def test_report_prints_what_the_endpoint_answers(tmp_path: Path, openai_fake: OpenAIFake) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    openai_fake.input_tokens = 2000
    openai_fake.output_tokens = 200
    config = gateway_config(openai_fake, url)
    with serving(config, openai_fake) as server:
        base = server.base_url
        for task, workload in (("a", "terminal_agent"), ("b", "cost_sensitive")):
            for _ in range(3):
                response = httpx2.post(
                    f"{base}/v1/chat/completions",
                    json={"model": "auto", "messages": [{"role": "user", "content": "go"}]},
                    headers={"X-Switchpoint-Task-Id": task, "X-Switchpoint-Workload": workload},
                )
                assert response.status_code == 200
            httpx2.post(
                f"{base}/v1/outcomes",
                json={"task_id": task, "outcome": "success", "kind": "pr_merged"},
            )
        endpoint = httpx2.get(f"{base}/v1/reports/outcomes", params={"by": "model"}).json()

    # The command finds the configuration the way `serve` does: here via the environment.
    env = {"SWITCHPOINT_CONFIG": str(config_for(tmp_path, url))}
    printed = switchpoint("report", "--by", "model", "--format", "json", env=env)
    assert printed.returncode == 0, printed.stderr
    report = json.loads(printed.stdout)
    assert set(report) == set(endpoint)
    assert report["groups"] == endpoint["groups"]
    assert [g["key"] for g in report["groups"]] == ["gpt-5.4", "gpt-5.5"]  # cheapest first

    table = switchpoint("report", "--by", "model", env=env)
    assert table.returncode == 0
    for text in ("cost/outcome", "gpt-5.4", "gpt-5.5", "by model, last 7d"):
        assert text in table.stdout

    as_csv = switchpoint("report", "--by", "task-kind", "--format", "csv", env=env)
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [row["key"] for row in rows] == ["pr_merged"]
    assert int(rows[0]["completed_outcomes"]) == 2
    assert float(rows[0]["cost_per_completed_outcome"]) == pytest.approx(
        float(rows[0]["cost_usd"]) / 2
    )


@pytest.mark.parametrize("args", [("--since", "soon"), ("--by", "planet"), ("--format", "xml")])
def test_report_rejects_bad_options(args: tuple[str, str], tmp_path: Path) -> None:
    config = str(config_for(tmp_path, f"sqlite:///{tmp_path / 'l.db'}"))
    result = switchpoint("report", *args, "--config", config)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
