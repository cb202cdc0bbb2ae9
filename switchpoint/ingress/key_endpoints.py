"""Admin endpoints for virtual keys (master key required unless the gateway runs open).

`POST /v1/keys` `{team, name?, budget_usd?, period?: day|week|month|total}` answers the
new key once (only its hash is stored); `GET /v1/keys` lists keys with their spend this
period; `DELETE /v1/keys/{id}` revokes one.
"""

from __future__ import annotations

import time
from urllib.parse import unquote

import orjson

from switchpoint.errors import GatewayError, invalid_request
from switchpoint.gateway import Gateway
from switchpoint.ingress.call_options import client_key
from switchpoint.ingress.chat_endpoint import parse_json_object
from switchpoint.ingress.ledger_io import require_ledger, run_on_ledger
from switchpoint.keys.issue import check_key_request, issue_key, key_info
from switchpoint.keys.key_format import key_reference
from switchpoint.keys.listing import list_keys
from switchpoint.ledger.key_records import revoke_key
from switchpoint.server.request import Request
from switchpoint.server.response import Response

PREFIX = "/v1/keys/"
_FIELDS = frozenset({"team", "name", "budget_usd", "period"})


class KeyEndpoints:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def _admin(self, request: Request) -> None:
        self.gateway.access.admin(client_key(request))
        require_ledger(self.gateway)

    async def create(self, request: Request) -> Response:
        self._admin(request)
        body = parse_json_object(request.body)
        unknown = sorted(set(body) - _FIELDS)
        if unknown:
            raise invalid_request(
                f"unknown field(s) {', '.join(map(repr, unknown))} "
                "(expected team, name, budget_usd, period)",
                unknown[0],
            )
        try:
            wanted = check_key_request(
                body.get("team"),
                body.get("name"),
                body.get("budget_usd"),
                body.get("period", "month"),
            )
        except ValueError as exc:
            raise invalid_request(str(exc)) from None
        record, key = await run_on_ledger(
            self.gateway, lambda connection: issue_key(connection, wanted, time.time())
        )
        # Usable at once in this process; other workers see it at their next sync.
        self.gateway.keyring.add(record)
        if record.budget_usd is not None:
            self.gateway.key_budgets.track([record])
        return Response(200, orjson.dumps({"key": key, **key_info(record, 0.0)}))

    async def list(self, request: Request) -> Response:
        self._admin(request)
        keys = await run_on_ledger(
            self.gateway, lambda connection: list_keys(connection, time.time()), fresh=True
        )
        return Response(200, orjson.dumps({"keys": keys}))

    async def revoke(self, request: Request) -> Response:
        self._admin(request)
        key_id, named = key_reference(unquote(request.path[len(PREFIX) :]))
        record = await run_on_ledger(
            self.gateway, lambda connection: revoke_key(connection, key_id, time.time())
        )
        if record is None:
            raise GatewayError("not_found", f"no virtual key {named}")
        self.gateway.keyring.add(record)
        return Response(200, orjson.dumps(key_info(record)))
