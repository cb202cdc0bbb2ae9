"""Running `switchpoint` in-process, as the user would type it, for the CLI tests."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import yaml
from rich.console import Console, ConsoleDimensions
from typer.testing import CliRunner, Result

from switchpoint.cli.app import app

# Wide, so that rich neither folds nor truncates the cells the tests look for. Patched on
# the class: the commands' consoles are made at import, and one made while COLUMNS was
# set (as under xdist) keeps that width whatever the environment says later.
_WIDE = property(lambda _console: ConsoleDimensions(250, 50))


def run(*args: str) -> Result:
    with mock.patch.object(Console, "size", _WIDE):
        return CliRunner().invoke(app, list(args))


def ledger_config(tmp_path: Path, url: str, **sections: object) -> Path:
    path = tmp_path / "switchpoint.yaml"
    path.write_text(yaml.safe_dump({"ledger": {"url": url}, **sections}))
    return path
