"""Endpoints that describe the gateway: models, health, readiness."""

from __future__ import annotations

import time

import orjson

from switchpoint.gateway import Gateway
from switchpoint.server.request import Request
from switchpoint.server.response import Response

_CREATED = int(time.time())


class InfoEndpoints:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def models(self, request: Request) -> Response:
        """Profiles (the names clients route by) and the models behind them, in the list
        format of whichever SDK is asking."""
        registry = self.gateway.registry
        names: list[tuple[str, str, str]] = [
            (name, profile.provider, f"workload profile -> {profile.model}")
            for name, profile in registry.profiles.items()
        ]
        names.append(("auto", "switchpoint", f"default profile -> {registry.default_profile}"))
        for model, owner in registry.profile_by_model.items():
            names.append((model, registry.profiles[owner].provider, f"model of {owner}"))
        if b"anthropic-version" in request.headers:
            data = [
                {
                    "id": ident,
                    "type": "model",
                    "display_name": description,
                    "created_at": "1970-01-01T00:00:00Z",
                }
                for ident, _, description in names
            ]
            body = {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        else:
            body = {
                "object": "list",
                "data": [
                    {
                        "id": ident,
                        "object": "model",
                        "created": _CREATED,
                        "owned_by": owner,
                        "description": description,
                    }
                    for ident, owner, description in names
                ],
            }
        return Response(200, orjson.dumps(body))

    async def healthz(self, request: Request) -> Response:
        return Response(200, b'{"status":"ok"}')

    async def readyz(self, request: Request) -> Response:
        """503 while no provider can be called. The details (providers, the variables
        their keys come from, breaker states) are for operators: with a master key set,
        only a request holding it sees them; a load balancer needs only the status."""
        gateway = self.gateway
        ready = gateway.ready
        body: dict[str, object] = {"status": "ready" if ready else "not_ready"}
        if gateway.admin_auth.allows(request):
            body["providers"] = [
                {"name": s.name, "type": s.type, "available": s.available, "reason": s.reason}
                for s in gateway.provider_statuses()
            ]
            body["breakers"] = [
                {"provider": provider, "model": model, "state": state}
                for (provider, model), state in gateway.executor.breakers.states().items()
            ]
        return Response(200 if ready else 503, orjson.dumps(body))
