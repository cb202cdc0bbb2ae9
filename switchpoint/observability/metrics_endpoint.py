"""`GET /metrics`: the Prometheus exposition, guarded by the master key unless made public."""

from __future__ import annotations

from switchpoint.ingress.admin_auth import AdminAuth
from switchpoint.observability.prometheus_export import MetricsExposition
from switchpoint.server.request import Request
from switchpoint.server.response import Response


class MetricsEndpoint:
    def __init__(self, exposition: MetricsExposition, auth: AdminAuth, *, public: bool) -> None:
        self.exposition = exposition
        self.auth = auth
        self.public = public

    async def __call__(self, request: Request) -> Response:
        if not self.public:
            self.auth.require(request)
        body, content_type = self.exposition.render(request.header(b"accept"))
        return Response(200, body, content_type=content_type)
