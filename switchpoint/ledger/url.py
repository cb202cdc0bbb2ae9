"""Ledger URLs, SQLAlchemy-style: which backend, and where."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit, urlunsplit

Backend = Literal["sqlite", "postgresql"]


@dataclass(frozen=True, slots=True)
class LedgerLocation:
    backend: Backend
    # SQLite: the database file. PostgreSQL: a libpq connection URI.
    target: str

    def describe(self) -> str:
        """Where the ledger is, for logs: never a password."""
        if self.backend == "sqlite":
            return f"sqlite {self.target}"
        parts = urlsplit(self.target)
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
        user = f"{parts.username}@" if parts.username else ""
        return f"postgresql {user}{host}{port}{parts.path}"


def parse_ledger_url(url: str, *, base_dir: Path | None = None) -> LedgerLocation:
    """`sqlite:///relative.db` (relative to `base_dir`, default the working directory),
    `sqlite:////absolute.db`, or `postgresql[+driver]://...` (also `postgres://`)."""
    scheme, sep, rest = url.partition("://")
    backend = scheme.partition("+")[0].lower()
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    if backend == "sqlite":
        if not rest.startswith("/"):
            raise ValueError("a SQLite URL has three slashes before its path: sqlite:///file.db")
        raw = unquote(rest[1:].partition("?")[0])
        if not raw:
            raise ValueError("the SQLite URL names no file")
        path = Path(raw)
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        return LedgerLocation("sqlite", str(path))
    if backend in ("postgresql", "postgres"):
        parts = urlsplit(url)
        return LedgerLocation(
            "postgresql",
            urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, parts.fragment)),
        )
    raise ValueError(f"unsupported ledger URL scheme {scheme!r} (sqlite or postgresql)")
