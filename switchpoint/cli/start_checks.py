"""Settings that would expose the gateway by mistake rather than by choice: `serve`
refuses to start on them, and `check` reports them, so that a configuration and its
environment checked in CI do not then fail to start."""

from __future__ import annotations

from collections.abc import Mapping

from switchpoint.config.schema import Config


def unsafe_start_problems(cfg: Config, environ: Mapping[str, str]) -> list[str]:
    """An empty host (every interface; `--host` is not validated like the file), and a
    master-key variable that is set but empty (an unfilled template, which would run the
    gateway open; unset, it runs open on purpose, and says so)."""
    problems = []
    if not cfg.server.host.strip():
        problems.append("the host to listen on is empty: give an address (0.0.0.0 for every one)")
    name = cfg.server.master_key_env
    value = environ.get(name)
    if value is not None and not value.strip():
        problems.append(
            f"{name} is set but empty: set it to the master key, or unset it to run the "
            "gateway open (admin endpoints without a credential)"
        )
    return problems
