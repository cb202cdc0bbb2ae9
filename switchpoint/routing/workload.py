"""Which profile a request asked for: header, profile name, concrete model, or `auto`."""

from __future__ import annotations

from dataclasses import dataclass

from switchpoint.errors import GatewayError
from switchpoint.routing.registry import Registry

AUTO = "auto"


@dataclass(frozen=True, slots=True)
class WorkloadSelection:
    profile: str
    # The client named a concrete model: serve it with that model (its profile's fallback
    # chain still applies), without the context-guard and budget moves.
    pinned_model: str | None = None


def select_workload(registry: Registry, header: str | None, model: str | None) -> WorkloadSelection:
    """Precedence: the `X-Switchpoint-Workload` header, then a profile name in `model`,
    then a model that a profile serves, then `auto` (or no model): the default profile."""
    if header is not None:
        name = header.strip()
        if name not in registry.profiles:
            raise GatewayError(
                "invalid_request",
                f"unknown workload {name!r} in X-Switchpoint-Workload "
                f"(known: {', '.join(sorted(registry.profiles))})",
                param="X-Switchpoint-Workload",
            )
        return WorkloadSelection(name)
    if model is None or model == AUTO:
        return WorkloadSelection(registry.default_profile)
    if model in registry.profiles:
        return WorkloadSelection(model)
    owner = registry.profile_by_model.get(model)
    if owner is not None:
        return WorkloadSelection(owner, pinned_model=model)
    raise GatewayError(
        "not_found",
        f"unknown model {model!r}: use a workload profile "
        f"({', '.join(sorted(registry.profiles))}), one of their models "
        f"({', '.join(sorted(registry.profile_by_model))}), or 'auto'",
        param="model",
        code="model_not_found",
    )
