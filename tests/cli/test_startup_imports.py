"""What `switchpoint serve` imports before it serves: every worker pays for it at start-up
(issue 7: ready within a second), so the other commands' terminal drawing stays out."""

from __future__ import annotations

import subprocess
import sys


def test_the_cli_loads_no_terminal_drawing_until_a_command_draws() -> None:
    probe = (
        "import sys\n"
        "import switchpoint.cli.app\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in "
        "('rich', 'pygments')}))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
