"""Values from users, the ledger or the configuration are printed as themselves: never
read as rich markup (where `[/x]` would crash the command), never with a password."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from switchpoint.cli.report import render_table
from switchpoint.ledger.reports import Report, ReportGroup
from switchpoint.url_redaction import redact_url
from tests.cli.cli_run import ledger_config, run

MARKUP = "[/x]"


def test_keys_create_prints_the_secret_of_a_team_that_looks_like_markup(tmp_path: Path) -> None:
    config = str(ledger_config(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}"))
    created = run("keys", "create", "--team", MARKUP, "--name", "[bold]n", "--config", config)
    assert created.exit_code == 0, created.output
    assert created.stdout.startswith("sk-sp-")
    # The secret comes first on stdout; the decoration, with the team as typed, after it.
    assert f"for team {MARKUP} (no budget)" in created.stderr

    listed = run("keys", "list", "--config", config)
    assert listed.exit_code == 0, listed.output
    assert MARKUP in listed.stdout and "[bold]n" in listed.stdout

    key_id = json.loads(run("keys", "list", "-f", "json", "--config", config).stdout)["keys"][0]
    revoked = run("keys", "revoke", key_id["id"], "--config", config)
    assert revoked.exit_code == 0, revoked.output
    assert f"(team {MARKUP})" in revoked.stderr


def test_error_messages_quoting_user_input_are_not_markup(tmp_path: Path) -> None:
    config = str(ledger_config(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}"))
    assert run("keys", "create", "--team", "t", "--config", config).exit_code == 0
    since = run("report", "--since", MARKUP, "--config", config)
    assert since.exit_code == 2 and MARKUP in since.stderr, since.output
    output_format = run("report", "--format", MARKUP, "--config", config)
    assert output_format.exit_code == 2 and MARKUP in output_format.stderr
    missing = run("keys", "revoke", MARKUP, "--config", config)
    # Not shaped like an id, so not repeated at all (it could be a secret).
    assert missing.exit_code == 1 and "no virtual key with that id" in missing.stderr


def test_report_table_shows_group_keys_as_they_are() -> None:
    report = Report(
        since=0.0,
        until=1.0,
        by="team",
        metric="cost_per_completed_outcome",
        groups=[ReportGroup(MARKUP, requests=1), ReportGroup("[red]t", requests=2)],
    )
    buffer = io.StringIO()
    Console(file=buffer, width=250).print(render_table(report, "[b]7d"))
    text = buffer.getvalue()
    assert MARKUP in text and "[red]t" in text and "last [b]7d" in text


def test_check_shows_names_from_the_configuration_as_they_are(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        """
providers:
  "[/p]": {type: openai_compatible, base_url: "https://llm.example/v1"}
routing:
  profiles:
    "[/x]": {model: "[bold]m", provider: "[/p]", max_context: 1000, cost_weight: 1}
"""
    )
    checked = run("check", "--config", str(config))
    assert checked.exit_code == 0, checked.output
    assert "[/p]" in checked.stdout and MARKUP in checked.stdout and "[bold]m" in checked.stdout
    assert "timeouts [/p]" in checked.stdout


def test_check_prints_no_password_of_a_redis_or_provider_url(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        """
providers:
  local: {type: openai_compatible, base_url: "https://u:BaseSecret@llm.example/v1"}
routing:
  fallback:
    circuit_breaker:
      store: {type: redis, url: "redis://:S3cretRedisPw@10.0.0.5:6379/0?password=Other"}
"""
    )
    checked = run("check", "--config", str(config))
    assert checked.exit_code == 0, checked.output
    assert "redis redis://10.0.0.5:6379/0?password=***" in checked.stdout
    assert "https://llm.example/v1" in checked.stdout
    for secret in ("S3cretRedisPw", "Other", "BaseSecret"):
        assert secret not in checked.output


def test_redact_url_drops_userinfo_and_masks_secret_parameters() -> None:
    assert redact_url("redis://:pw@10.0.0.5:6379/0") == "redis://10.0.0.5:6379/0"
    assert redact_url("rediss://user:pw@h/1?password=x&db=2") == "rediss://h/1?password=***&db=2"
    assert redact_url("unix://:pw@/run/redis.sock?db=0") == "unix:///run/redis.sock?db=0"
    assert redact_url("http://u@[::1]:80/v1") == "http://[::1]:80/v1"
    assert (
        redact_url("https://api.example/v1?api-key=k&x=1")
        == "https://api.example/v1?api-key=***&x=1"
    )
    assert redact_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert "pw" not in redact_url("redis://:pw@[::1:6379/0")
