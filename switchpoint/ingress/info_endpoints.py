"""Endpoints that describe the gateway's state: health, readiness."""

from __future__ import annotations

import orjson

from switchpoint.gateway import Gateway
from switchpoint.server.request import Request
from switchpoint.server.response import Response


class InfoEndpoints:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

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
