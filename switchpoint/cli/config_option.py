"""The `--config` option every command shares, and loading it with readable errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from switchpoint.cli.terminal import escape, stderr
from switchpoint.config import Config, ConfigError, load_config

ConfigPath = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="YAML configuration file (default: $SWITCHPOINT_CONFIG, else built-in defaults).",
        dir_okay=False,
    ),
]


def config_path(path: Path | None) -> Path | None:
    if path is not None:
        return path
    env = os.environ.get("SWITCHPOINT_CONFIG")
    return Path(env) if env else None


def load_or_exit(path: Path | None) -> Config:
    try:
        return load_config(config_path(path))
    except ConfigError as exc:
        # One line each, however long (a path, a message), so that they can be grepped.
        stderr().print(
            f"[bold red]{escape(exc.source)} is invalid[/] ({len(exc.problems)} problem(s)):",
            soft_wrap=True,
        )
        for problem in exc.problems:
            # The problem's own text is escaped, not read as markup: it quotes keys like
            # `profiles[0]` and the user's values.
            stderr().print(f"  [red]-[/] {escape(str(problem))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
