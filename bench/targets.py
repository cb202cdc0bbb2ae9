"""Systems under test. A target is a command that serves HTTP on a port: its name,
argv, port, environment, CPU pinning, readiness URL, and how to address a chat request
to it (path, model name, headers).

  direct         the fake upstream itself: the baseline every "added" figure subtracts
  aiohttp_proxy  bench/baseline_proxy.py, the bare pass-through reference
  floor_proxy    bench/floor_proxy.py, uvloop + httptools pass-through: the practical floor
  litellm        LiteLLM's proxy (bench/litellm_env.py), one worker
  switchpoint    `python -m switchpoint serve --config <generated> --port P`
  custom         --custom NAME=COMMAND, with {port}, {upstream_port}, {upstream_url}, {cpu}
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bench import litellm_env

UPSTREAM_MODEL = "bench-model"
SWITCHPOINT_MASTER_KEY = "bench-master-key"
CHAT_PATH = "/v1/chat/completions"


@dataclass
class Target:
    name: str
    # None for `direct`: the fake upstream is already running.
    argv: list[str] | None
    port: int
    cpus: set[int]
    ready_path: str = "/readyz"
    env: dict[str, str] = field(default_factory=dict)
    unset_env: tuple[str, ...] = ()
    cwd: Path | None = None
    model: str = UPSTREAM_MODEL
    chat_path: str = CHAT_PATH
    headers: dict[str, str] = field(default_factory=dict)
    workers: int = 1
    # Set when the target cannot run here; the run reports it as skipped.
    unavailable: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.chat_path}"


def cpu_arg(cpus: set[int]) -> str:
    return ",".join(str(c) for c in sorted(cpus))


def direct(upstream_port: int, upstream_cpus: set[int]) -> Target:
    return Target(name="direct", argv=None, port=upstream_port, cpus=upstream_cpus)


def aiohttp_proxy(port: int, upstream_port: int, cpus: set[int], workers: int = 1) -> Target:
    return Target(
        name="aiohttp_proxy",
        argv=[
            sys.executable, "-m", "bench.baseline_proxy",
            "--port", str(port),
            "--upstream", f"http://127.0.0.1:{upstream_port}",
            "--cpu", cpu_arg(cpus),
            "--workers", str(workers),
        ],
        port=port,
        cpus=cpus,
        workers=workers,
    )


def floor_proxy(port: int, upstream_port: int, cpus: set[int], workers: int = 1) -> Target:
    return Target(
        name="floor_proxy",
        argv=[
            sys.executable, "-m", "bench.floor_proxy",
            "--port", str(port),
            "--upstream", f"http://127.0.0.1:{upstream_port}",
            "--cpu", cpu_arg(cpus),
            "--workers", str(workers),
        ],
        port=port,
        cpus=cpus,
        workers=workers,
    )


def litellm(port: int, upstream_port: int, cpus: set[int], workdir: Path,
            workers: int = 1) -> Target:
    config = litellm_env.write_config(workdir / f"litellm-{port}.yaml", upstream_port)
    cmd = litellm_env.command(config, port, workers)
    return Target(
        name="litellm",
        argv=cmd.argv,
        port=port,
        cpus=cpus,
        ready_path=cmd.ready_path,
        env=cmd.env,
        unset_env=cmd.unset_env,
        cwd=workdir,
        model=litellm_env.MODEL,
        headers=cmd.headers,
        workers=workers,
        unavailable=litellm_env.availability(),
    )


def switchpoint_config(port: int, upstream_port: int, workers: int = 1,
                       server_settings: Mapping[str, object] | None = None) -> dict[str, object]:
    """The gateway's configuration for a benchmark: one OpenAI-compatible provider (the
    fake upstream) behind one profile, `fast`; `server_settings` go into `server:`."""
    server: dict[str, object] = {"host": "127.0.0.1", "port": port}
    if workers != 1:
        server["workers"] = workers
    server.update(server_settings or {})
    return {
        "server": server,
        "providers": {
            "bench": {
                "type": "openai_compatible",
                "base_url": f"http://127.0.0.1:{upstream_port}/v1",
                "api_key_env": "BENCH_KEY",
            }
        },
        # Priced like a real model, so the per-request cost accounting runs as in
        # production (an unpriced model may skip it).
        "models": {UPSTREAM_MODEL: {"input_usd_per_mtok": 1.0, "output_usd_per_mtok": 4.0}},
        "routing": {
            "default_profile": "fast",
            "profiles": {
                "fast": {
                    "model": UPSTREAM_MODEL,
                    "provider": "bench",
                    "max_context": 2_000_000,
                    "cost_weight": 0.5,
                }
            },
        },
    }


def switchpoint(port: int, upstream_port: int, cpus: set[int], workdir: Path,
                root: Path, workers: int = 1,
                server: Mapping[str, object] | None = None) -> Target:
    config_path = workdir / f"switchpoint-{port}.yaml"
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(
        yaml.safe_dump(switchpoint_config(port, upstream_port, workers, server), sort_keys=False)
    )
    unavailable = None
    if not (root / "switchpoint").is_dir():
        unavailable = f"no switchpoint package under {root}"
    elif not _has_module(root, "switchpoint.__main__"):
        unavailable = f"{root}/switchpoint has no __main__ yet (`python -m switchpoint serve`)"
    return Target(
        name="switchpoint",
        argv=[
            sys.executable, "-m", "switchpoint", "serve",
            "--config", str(config_path),
            "--port", str(port),
        ],
        port=port,
        cpus=cpus,
        env={
            "BENCH_KEY": "bench-upstream-key",
            "SWITCHPOINT_MASTER_KEY": SWITCHPOINT_MASTER_KEY,
            "PYTHONPATH": str(root),
        },
        # Run from the run's folder, importing from `root`: whatever the gateway writes
        # relative to its working directory (a SQLite ledger, say) lands with the logs,
        # not in the checkout being measured.
        cwd=workdir,
        model="fast",
        headers={"Authorization": f"Bearer {SWITCHPOINT_MASTER_KEY}"},
        workers=workers,
        unavailable=unavailable,
    )


def switchpoint_origin(root: Path) -> list[str]:
    """Where the switchpoint modules imported from `root` really come from. The shared
    virtualenv may hold an editable install of another checkout, whose import hook fills
    in any module missing under `root`: a half-built checkout would be measured with
    another one's code, silently."""
    import subprocess

    probe = (
        "import importlib.util\n"
        "names = ['switchpoint', 'switchpoint.config.loader', 'switchpoint.routing.resolve',"
        " 'switchpoint.__main__']\n"
        "for n in names:\n"
        "    try:\n"
        "        spec = importlib.util.find_spec(n)\n"
        "    except Exception:\n"
        "        spec = None\n"
        "    print(n, spec.origin if spec else '-')\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True,
                         text=True, timeout=60, env=_root_env(root), check=False)
    return [line for line in out.stdout.splitlines() if line.strip()]


def _root_env(root: Path) -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(root)}


def _has_module(root: Path, dotted: str) -> bool:
    path = root.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def custom(spec: str, port: int, upstream_port: int, cpus: set[int]) -> Target:
    """`NAME=COMMAND`; the command must serve /readyz and /v1/chat/completions."""
    name, _, template = spec.partition("=")
    argv = [
        part.format(
            port=port,
            upstream_port=upstream_port,
            upstream_url=f"http://127.0.0.1:{upstream_port}",
            cpu=cpu_arg(cpus),
        )
        for part in shlex.split(template)
    ]
    return Target(name=name.strip(), argv=argv, port=port, cpus=cpus)
