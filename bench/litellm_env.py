"""LiteLLM's proxy as a reference target, in its own virtualenv (never a dependency of
switchpoint: it would pull in hundreds of packages and pin ours).

    python -m bench.litellm_env install     # into .bench-venvs/litellm
    python -m bench.litellm_env check       # prints where it is, or why it is unavailable

The pin: `litellm[proxy]` releases newer than this one require exact versions of their
companion packages (litellm-proxy, litellm-enterprise) that the registry reachable here
does not have, so they do not install; 1.108.6 is the newest that resolves. Release
1.107.0 was a compromised upload: never move the pin onto it.

The proxy runs with no database (DATABASE_URL unset: an empty one is an error), a
master key (it refuses to start without one, and a client then sends it, as in real
use), telemetry off, the model cost map read from the package instead of fetched at
start-up, and one worker.
"""

from __future__ import annotations

import argparse
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

LITELLM_VERSION = "1.108.6"
REPO_ROOT = Path(__file__).resolve().parent.parent
VENV = REPO_ROOT / ".bench-venvs" / "litellm"
READY_PATH = "/health/liveliness"
MODEL = "bench-model"
# A fresh strong key per harness process (LiteLLM rejects weak ones).
MASTER_KEY = "sk-bench-" + secrets.token_hex(16)


def executable() -> Path:
    return VENV / "bin" / "litellm"


def availability() -> str | None:
    """None when LiteLLM can be started, else why not."""
    if not executable().exists():
        return (f"LiteLLM is not installed in {VENV} "
                f"(run: python -m bench.litellm_env install)")
    return None


def install() -> int:
    """Create the venv and install the pinned release; returns the exit code."""
    if not (VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=False)
    return subprocess.run([*pip, f"litellm[proxy]=={LITELLM_VERSION}"], check=False).returncode


def write_config(path: Path, upstream_port: int) -> Path:
    config = {
        "model_list": [
            {
                "model_name": MODEL,
                "litellm_params": {
                    # `openai/` is LiteLLM's OpenAI-compatible provider with a custom base.
                    "model": f"openai/{MODEL}",
                    "api_base": f"http://127.0.0.1:{upstream_port}/v1",
                    "api_key": "bench-upstream-key",
                },
            }
        ],
        "litellm_settings": {"telemetry": False, "set_verbose": False, "drop_params": True},
        "general_settings": {"master_key": MASTER_KEY},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@dataclass(frozen=True, slots=True)
class LiteLLMCommand:
    argv: list[str]
    env: dict[str, str]
    unset_env: tuple[str, ...]
    ready_path: str
    headers: dict[str, str]


def command(config_path: Path, port: int, workers: int = 1) -> LiteLLMCommand:
    return LiteLLMCommand(
        argv=[
            str(executable()),
            "--config", str(config_path),
            "--host", "127.0.0.1",
            "--port", str(port),
            "--num_workers", str(workers),
        ],
        env={
            # Read the model price map shipped in the package; do not fetch it at start-up.
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_TELEMETRY": "False",
            "LITELLM_LOG": "ERROR",
            "STORE_MODEL_IN_DB": "False",
            "NUM_WORKERS": str(workers),
        },
        unset_env=("DATABASE_URL", "LITELLM_MASTER_KEY"),
        ready_path=READY_PATH,
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="LiteLLM reference target")
    parser.add_argument("action", choices=["install", "check"])
    args = parser.parse_args()
    if args.action == "install":
        sys.exit(install())
    reason = availability()
    print(reason or f"LiteLLM {LITELLM_VERSION} at {executable()}")
    sys.exit(1 if reason else 0)


if __name__ == "__main__":
    main()
