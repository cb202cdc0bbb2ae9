"""`switchpoint demo`: offline, keyless, and it tells the whole story."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_offline_and_reports_routing_breakers_and_outcomes(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "COLUMNS": "200",
    }
    result = subprocess.run(
        [sys.executable, "-m", "switchpoint", "demo", "--seconds", "4", "--rate", "40"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    assert "160/160 requests answered" in out
    assert "who served what" in out and "why requests moved" in out
    assert "context_guard" in out and "budget_fallback" in out
    # The outage opened the anthropic breaker, and traffic moved elsewhere meanwhile.
    assert "closed -> open" in out
    assert "breaker_open" in out or "overloaded" in out
    assert "cost per completed outcome" in out
    assert "Traceback" not in result.stderr
    # No ledger or other file is left behind in the working directory.
    assert list(tmp_path.iterdir()) == [] or all(p.name.startswith(".") for p in tmp_path.iterdir())
