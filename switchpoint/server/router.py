"""Dispatching requests to handlers by method and path."""

from __future__ import annotations

from collections.abc import Callable

from switchpoint.errors import GatewayError
from switchpoint.server.request import Request
from switchpoint.server.response import Response, StreamingResponse
from switchpoint.server.state import Handler

# Renders an error for a request in the protocol its path implies.
ErrorResponder = Callable[[Request, GatewayError], Response]


class Router:
    def __init__(self, respond_error: ErrorResponder) -> None:
        self._exact: dict[str, dict[str, Handler]] = {}
        # Paths with one trailing parameter, e.g. `/v1/tasks/{task_id}`: one segment,
        # or the rest of the path, slashes included, for `{name:path}` (model ids such
        # as `meta-llama/Llama-3.3-70B` are sent so by clients that do not encode them).
        self._prefixed: list[tuple[str, bool, dict[str, Handler]]] = []
        self._respond_error = respond_error

    def add(self, method: str, path: str, handler: Handler) -> None:
        if path.endswith("}"):
            start = path.rindex("{")
            prefix = path[:start]
            rest = path[start:].endswith(":path}")
            for existing, existing_rest, methods in self._prefixed:
                if existing == prefix and existing_rest == rest:
                    methods[method] = handler
                    return
            self._prefixed.append((prefix, rest, {method: handler}))
        else:
            self._exact.setdefault(path, {})[method] = handler

    def _methods(self, path: str) -> dict[str, Handler] | None:
        methods = self._exact.get(path)
        if methods is not None:
            return methods
        for prefix, rest, candidates in self._prefixed:
            if (
                path.startswith(prefix)
                and len(path) > len(prefix)
                and (rest or "/" not in path[len(prefix) :])
            ):
                return candidates
        return None

    async def __call__(self, request: Request) -> Response | StreamingResponse:
        path = request.path
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/")
            request.path = path
        methods = self._methods(path)
        if methods is None:
            return self._respond_error(
                request,
                GatewayError("not_found", f"no route for {request.method} {request.path}"),
            )
        handler = methods.get(request.method)
        if handler is None:
            if request.method == "HEAD" and "GET" in methods:
                # The GET's answer: the server sends its head only (protocol.py).
                return await self._head(methods["GET"], request)
            # HEAD is served wherever GET is.
            allowed = ", ".join(sorted({*methods, "HEAD"} if "GET" in methods else methods))
            response = self._respond_error(
                request,
                GatewayError(
                    "method_not_allowed",
                    f"{request.method} is not allowed on {path} (allowed: {allowed})",
                ),
            )
            response.headers.append(("allow", allowed))
            return response
        try:
            return await handler(request)
        except GatewayError as error:
            return self._respond_error(request, error)

    async def _head(self, get: Handler, request: Request) -> Response | StreamingResponse:
        try:
            return await get(request)
        except GatewayError as error:
            return self._respond_error(request, error)
