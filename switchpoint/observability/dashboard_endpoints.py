"""`/ui`: the built-in dashboard, its static assets, its data, and its login.

Everything is served from files inside the package (no CDN, no internet). The page and
its data need the master key when one is set: a browser logs in once with a form and
then carries a session cookie (an HMAC of the key); scripts such as `switchpoint top`
send the key as a bearer token. The static assets carry no data and are public, so the
login page can be styled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import orjson

from switchpoint.errors import GatewayError
from switchpoint.ingress.admin_auth import SESSION_COOKIE, AdminAuth
from switchpoint.keys.master_key import SESSION_TTL_S
from switchpoint.observability.dashboard_snapshot import SnapshotBuilder
from switchpoint.observability.ledger_panel import LedgerPanel
from switchpoint.server.request import Request
from switchpoint.server.response import Response

log = logging.getLogger("switchpoint.dashboard")

HTML = "text/html; charset=utf-8"
_ASSET_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_SECURITY_HEADERS = [
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
]
# The ledger is asked at most this often, however many dashboards poll, and never
# waited on for longer than the timeout (the page says the panel is stale instead).
_LEDGER_CACHE_S = 5.0
_LEDGER_TIMEOUT_S = 2.0
_MAX_LOGIN_BODY = 4096


def _load_assets() -> dict[str, bytes]:
    folder = resources.files("switchpoint.observability.dashboard")
    return {
        entry.name: entry.read_bytes()
        for entry in folder.iterdir()
        if entry.name.rsplit(".", 1)[-1] in ("html", "js", "css", "svg")
    }


class DashboardEndpoints:
    def __init__(
        self,
        snapshots: SnapshotBuilder,
        auth: AdminAuth,
        *,
        ledger: LedgerPanel | None = None,
    ) -> None:
        self.snapshots = snapshots
        self.auth = auth
        self.ledger = ledger
        self.assets = _load_assets()
        self._ledger_value: dict[str, Any] | None = None
        self._ledger_at = float("-inf")
        self._ledger_task: asyncio.Task[dict[str, Any] | None] | None = None

    # --- pages ----------------------------------------------------------------------
    def _login_page(self, status: int, message: str = "") -> Response:
        page = self.assets["login.html"].replace(
            b"<!--message-->", message.encode("utf-8") if message else b""
        )
        return Response(status, page, content_type=HTML, headers=list(_SECURITY_HEADERS))

    async def page(self, request: Request) -> Response:
        if not self.auth.allows(request):
            return self._login_page(401)
        return Response(
            200, self.assets["index.html"], content_type=HTML, headers=list(_SECURITY_HEADERS)
        )

    async def login(self, request: Request) -> Response:
        key = ""
        if len(request.body) <= _MAX_LOGIN_BODY:
            form = parse_qs(request.body.decode("utf-8", "replace"))
            key = (form.get("key") or [""])[-1]
        if not self.auth.key_matches(key):
            if not self.auth.enabled:
                return _redirect("/ui")
            return self._login_page(401, '<p class="error">That key was not accepted.</p>')
        # Behind a TLS-terminating proxy the browser is told to send it over HTTPS only.
        forwarded = (request.header(b"x-forwarded-proto") or "").strip().lower()
        secure = "; Secure" if forwarded == "https" else ""
        cookie = (
            f"{SESSION_COOKIE}={self.auth.new_session()}; Path=/; HttpOnly; SameSite=Strict; "
            f"Max-Age={SESSION_TTL_S}{secure}"
        )
        return _redirect("/ui", [("set-cookie", cookie)])

    async def logout(self, request: Request) -> Response:
        cookie = f"{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        return _redirect("/ui", [("set-cookie", cookie)])

    async def asset(self, request: Request) -> Response:
        name = request.path.rsplit("/", 1)[-1]
        suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
        body = self.assets.get(name)
        if body is None or suffix not in _ASSET_TYPES:
            raise GatewayError("not_found", f"no dashboard asset named {name!r}")
        return Response(
            200,
            body,
            content_type=_ASSET_TYPES[suffix],
            headers=[("x-content-type-options", "nosniff"), ("cache-control", "no-cache")],
        )

    # --- data -----------------------------------------------------------------------
    async def snapshot(self, request: Request) -> Response:
        self.auth.require(request)
        ledger = await self._ledger_summary()
        body = orjson.dumps(self.snapshots.build(ledger), option=orjson.OPT_NON_STR_KEYS)
        return Response(200, body, headers=[("cache-control", "no-store")])

    async def _ledger_summary(self) -> dict[str, Any] | None:
        """The ledger's queue (live) and its reports (cached, never waited on for long:
        a slow database leaves the previous figures, marked stale)."""
        ledger = self.ledger
        if ledger is None:
            return None
        stale = False
        now = time.monotonic()
        if now - self._ledger_at >= _LEDGER_CACHE_S:
            if self._ledger_task is None or self._ledger_task.done():
                self._ledger_task = asyncio.ensure_future(ledger.reports())
            try:
                # shield: a slow query keeps running for the next poll, not restarted.
                reports = await asyncio.wait_for(
                    asyncio.shield(self._ledger_task), _LEDGER_TIMEOUT_S
                )
            except TimeoutError:
                stale = True
            except Exception:
                log.warning("the ledger's reports failed", exc_info=True)
                reports = {"error": "the ledger's reports could not be read"}
            if not stale:
                self._ledger_value = reports
                self._ledger_at = now
        # Read after the reports: the queue's counters are never older than the rows the
        # reports counted (written 0 beside a report of three calls, otherwise).
        summary = ledger.stats()
        summary.update(self._ledger_value or {})
        if stale:
            summary["stale"] = True
        return summary


def _redirect(location: str, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(303, b"", content_type=HTML, headers=[("location", location), *(headers or [])])
