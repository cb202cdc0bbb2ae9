"""`switchpoint keys` refuses an output format it does not have before doing anything:
`keys create -f jsn` in a provisioning script made a key and printed it as a table the
script could not read (the secret, shown only once, then lost)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.cli_run import ledger_config, run


@pytest.mark.parametrize("command", [("create", "--team", "infra"), ("list",)])
def test_an_unknown_format_is_a_usage_error_and_nothing_is_created(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    ledger = tmp_path / "ledger.db"
    config = str(ledger_config(tmp_path, f"sqlite:///{ledger}"))
    result = run("keys", *command, "--format", "jsn", "--config", config)
    assert result.exit_code == 2, result.output
    assert "unknown format 'jsn' (table or json)" in result.output
    assert "sk-sp-" not in result.output
    # No key was made (the ledger was not even created).
    assert not ledger.exists()
