"""Commands that only read the ledger never create one: a mistyped or relative path is
an error, not an empty ledger that reads as "no traffic". `keys create` writes, so it
may create the ledger (as `serve` does), and says so."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.cli_run import ledger_config, run

READ_ONLY = (("report",), ("report", "--by", "team"), ("keys", "list"), ("keys", "revoke", "x"))


@pytest.mark.parametrize("command", READ_ONLY)
def test_read_only_commands_fail_without_creating_a_missing_ledger(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    missing = tmp_path / "typo" / "dir" / "ledger.db"
    config = ledger_config(tmp_path, f"sqlite:///{missing}")
    result = run(*command, "--config", str(config))
    assert result.exit_code == 1, result.output
    assert f"no ledger at {missing}" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "typo").exists()


def test_a_relative_ledger_path_is_named_as_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = ledger_config(tmp_path, "sqlite:///switchpoint-ledger.db")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = run("report", "--config", str(config))
    assert result.exit_code == 1
    assert f"no ledger at {elsewhere / 'switchpoint-ledger.db'}" in result.stderr
    assert "relative to the working directory" in result.stderr
    assert os.listdir(elsewhere) == []


def test_keys_create_creates_the_ledger_and_says_so_then_readers_find_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "new" / "ledger.db"
    config = str(ledger_config(tmp_path, f"sqlite:///{path}"))
    created = run("keys", "create", "--team", "t", "--config", config)
    assert created.exit_code == 0, created.output
    assert created.stdout.startswith("sk-sp-")
    assert f"created a new ledger at {path}" in created.stderr
    again = run("keys", "create", "--team", "t", "--config", config)
    assert "created a new ledger" not in again.stderr
    listed = run("keys", "list", "--config", config)
    assert listed.exit_code == 0 and listed.stdout.count(" t ") == 2, listed.output
    report = run("report", "--config", config)
    assert report.exit_code == 0 and "no requests in the ledger" in report.stderr
