"""`GET /v1/models` and `GET /v1/models/{model_id}`: the names clients route by (workload
profiles, `auto`, the concrete models behind the profiles), in the shape of whichever
SDK is asking: Anthropic's when the request carries `anthropic-version` (its SDKs always
send it), OpenAI's otherwise. Errors take the same shape.

With a master key set, both take the same credentials as the chat endpoints (401
otherwise), as OpenAI's own models endpoints do: they name the profiles and the models
behind them, which says how calls are routed (so does `POST /v1/route`, likewise closed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import orjson

from switchpoint.errors import GatewayError
from switchpoint.gateway import Gateway
from switchpoint.ingress.call_options import client_key
from switchpoint.protocols.anthropic.errors import error_body as anthropic_error_body
from switchpoint.protocols.openai.errors import error_body as openai_error_body
from switchpoint.routing.registry import Registry
from switchpoint.routing.workload import AUTO
from switchpoint.server.request import Request
from switchpoint.server.response import Response

PREFIX = "/v1/models/"
_CREATED = int(time.time())
_ANTHROPIC_CREATED = "1970-01-01T00:00:00Z"


@dataclass(frozen=True, slots=True)
class ListedModel:
    id: str
    # The provider's name, or switchpoint's for `auto`.
    owner: str
    description: str


def listed_models(registry: Registry) -> dict[str, ListedModel]:
    """Profiles, `auto`, then the profiles' models, by id; a name that means two things
    means what routing makes of it (`auto`, then a profile, then a model)."""
    models = {
        name: ListedModel(name, profile.provider, f"workload profile -> {profile.model}")
        for name, profile in registry.profiles.items()
    }
    models[AUTO] = ListedModel(
        AUTO, "switchpoint", f"default profile -> {registry.default_profile}"
    )
    for model, owner in registry.profile_by_model.items():
        if model not in models:
            models[model] = ListedModel(
                model, registry.profiles[owner].provider, f"model of {owner}"
            )
    return models


def openai_model(model: ListedModel) -> dict[str, Any]:
    return {
        "id": model.id,
        "object": "model",
        "created": _CREATED,
        "owned_by": model.owner,
        "description": model.description,
    }


def anthropic_model(model: ListedModel) -> dict[str, Any]:
    return {
        "id": model.id,
        "type": "model",
        "display_name": model.description,
        "created_at": _ANTHROPIC_CREATED,
        "lifecycle": "active",
    }


class ModelsEndpoints:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        # The registry never changes while the gateway runs.
        self._models = listed_models(gateway.registry)

    async def list(self, request: Request) -> Response:
        anthropic = _asked_by_anthropic(request)
        try:
            await self.gateway.authenticate(client_key(request))
        except GatewayError as error:
            return _error(error, anthropic)
        if anthropic:
            data = [anthropic_model(model) for model in self._models.values()]
            body: dict[str, Any] = {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        else:
            body = {"object": "list", "data": [openai_model(m) for m in self._models.values()]}
        return Response(200, orjson.dumps(body))

    async def retrieve(self, request: Request) -> Response:
        anthropic = _asked_by_anthropic(request)
        try:
            await self.gateway.authenticate(client_key(request))
            model = self._model(unquote(request.path[len(PREFIX) :]))
        except GatewayError as error:
            return _error(error, anthropic)
        return Response(
            200, orjson.dumps(anthropic_model(model) if anthropic else openai_model(model))
        )

    def _model(self, ident: str) -> ListedModel:
        model = self._models.get(ident)
        if model is None:
            raise GatewayError(
                "not_found",
                f"unknown model {ident!r}: use a workload profile, one of their models, "
                "or 'auto' (GET /v1/models lists them)",
                param="model",
                code="model_not_found",
            )
        return model


def _asked_by_anthropic(request: Request) -> bool:
    return b"anthropic-version" in request.headers


def _error(error: GatewayError, anthropic: bool) -> Response:
    body = anthropic_error_body(error) if anthropic else openai_error_body(error)
    return Response(error.status, orjson.dumps(body))
