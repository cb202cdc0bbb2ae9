"""An incoming HTTP request, fully read."""

from __future__ import annotations

from urllib.parse import parse_qs


class Request:
    __slots__ = ("body", "client", "headers", "http_version", "method", "path", "query")

    def __init__(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[bytes, bytes],
        body: bytes,
        client: str,
        http_version: str,
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        # Lower-cased names; a repeated header's values are joined with ", ".
        self.headers = headers
        self.body = body
        self.client = client
        self.http_version = http_version

    def header(self, name: bytes) -> str | None:
        value = self.headers.get(name)
        return None if value is None else value.decode("latin-1")

    def query_params(self) -> dict[str, str]:
        return {key: values[-1] for key, values in parse_qs(self.query).items()}
