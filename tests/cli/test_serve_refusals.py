"""`switchpoint serve` refuses to start where a blank setting would expose the gateway."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gateway_process import REPO


def serve(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "SWITCHPOINT_MASTER_KEY"}
    return subprocess.run(
        [sys.executable, "-m", "switchpoint", "serve", "--port", "0", *args],
        cwd=REPO,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_master_key_variable_set_but_empty_is_refused() -> None:
    # An unfilled EnvironmentFile entry would otherwise run the gateway open.
    finished = serve(SWITCHPOINT_MASTER_KEY="  ")
    assert finished.returncode == 2
    assert "SWITCHPOINT_MASTER_KEY is set but empty" in finished.stderr
    assert "Traceback" not in finished.stderr


@pytest.mark.parametrize("host", ["", " "])
def test_an_empty_host_is_refused(host: str) -> None:
    # An empty address binds every interface.
    finished = serve("--host", host)
    assert finished.returncode == 2
    assert "host to listen on is empty" in finished.stderr


def test_check_says_what_serve_would_refuse_to_start_on(tmp_path: Path) -> None:
    # `check` said "configuration is valid" where `serve` then refused to start.
    config = tmp_path / "switchpoint.yaml"
    config.write_text("ledger: {enabled: false}\n")
    environ = {k: v for k, v in os.environ.items() if k != "SWITCHPOINT_MASTER_KEY"}
    finished = subprocess.run(
        [sys.executable, "-m", "switchpoint", "check", "--config", str(config)],
        cwd=REPO, env={**environ, "SWITCHPOINT_MASTER_KEY": " "},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert finished.returncode == 2, finished.stdout
    assert "serve would refuse to start" in finished.stderr
    assert "SWITCHPOINT_MASTER_KEY is set but empty" in finished.stderr
    assert "configuration is valid" not in finished.stdout
