"""Sampling settings a model refuses, learned from the vendor's own refusals.

OpenAI's reasoning models (the o-series, GPT-5 and later) refuse some sampling
settings: a `temperature` other than 1, `top_p`, the penalties. They answer a 400 that
names the setting (`param`) with the code `unsupported_value` or
`unsupported_parameter`. Anthropic's Claude Sonnet 4.5 and later refuse `temperature`
and `top_p` together, and Opus 4.7 and later refuse all three of `temperature`, `top_p`
and `top_k` ("'temperature' is deprecated for this model"). Which settings a model
refuses depends on the model, its snapshot and (at OpenAI) its reasoning effort, so no
list of models is kept here; each adapter says which setting a refusal names
(`ProviderError.refused_setting`).
When a client that set one (written for another model, or speaking another vendor's
protocol) is routed to such a model, the gateway, not the client, chose the model: the
request is sent again without the refused setting, the model is remembered as refusing
it so that later requests go without it at once, and the client is told which settings
were dropped (`x-switchpoint-dropped-params`).

Only settings that tune how tokens are sampled are dropped. A refusal of anything that
shapes the answer (stop sequences, JSON output, tools, log-probabilities, several
choices) is the model's limit, not the client's fault: the call goes to the chain's next
model (`unsupported`), and without one the client gets the vendor's 400.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from switchpoint.chat.request import ChatRequest
from switchpoint.providers.errors import ProviderError
from switchpoint.providers.limits import AttemptLimits

log = logging.getLogger("switchpoint.providers")

DROPPABLE = frozenset(
    {"temperature", "top_p", "top_k", "presence_penalty", "frequency_penalty", "seed"}
)
# A bound on what is remembered: models come from the configuration, so this is only
# a guard against a name set per request.
_MAX_MODELS = 1024


def refused_sampling_setting(error: ProviderError) -> str | None:
    """The sampling setting `error` refuses, if that is all it refuses."""
    setting = error.refused_setting
    return setting if error.status == 400 and setting in DROPPABLE else None


class SamplingRefusals:
    """What each model of one provider was seen to refuse."""

    __slots__ = ("_by_model", "seen")

    def __init__(self) -> None:
        # Per model: each setting it refuses, and the one it refuses it alongside (None:
        # refused whatever else is sent).
        self._by_model: dict[str, dict[str, str | None]] = {}
        # Whether any model refused anything: until one does (with most configurations,
        # never), a request's body is not looked at, which costs one attribute read.
        self.seen = False

    def drop(self, model: str, body: dict[str, Any]) -> tuple[str, ...]:
        """Remove from `body` the settings `model` refuses; the names removed, sorted."""
        refused = self._by_model.get(model)
        if not refused:
            return ()
        dropped = tuple(
            sorted(
                name
                for name, alongside in refused.items()
                if name in body and (alongside is None or alongside in body)
            )
        )
        for name in dropped:
            del body[name]
        return dropped

    def learn(self, provider: str, model: str, error: ProviderError) -> bool:
        """Whether `error` is `model` refusing a sampling setting (now remembered): the
        request may be sent again without it."""
        setting = refused_sampling_setting(error)
        if setting is None:
            return False
        known = self._by_model.get(model)
        if known is None or setting not in known:
            if len(self._by_model) >= _MAX_MODELS:
                self._by_model.clear()
            self._by_model.setdefault(model, {})[setting] = error.refused_alongside
            self.seen = True
            log.info(
                "%s: %s refuses %r; requests to it are now sent without that setting",
                provider,
                model,
                setting,
            )
        return True


class _Encoder(Protocol):
    """An adapter that writes a request's body for a model, streamed or not."""

    name: str
    sampling_refusals: SamplingRefusals

    def _body(
        self, request: ChatRequest, model: str, stream: bool, limits: AttemptLimits | None = None
    ) -> bytes: ...


def body_without_refused(
    adapter: _Encoder,
    request: ChatRequest,
    model: str,
    stream: bool,
    limits: AttemptLimits,
    error: ProviderError,
) -> bytes | None:
    """The request's body again, without the sampling setting `model` just refused
    (`error`), to send in the same attempt; None when the refusal was of something else.
    Adapters pass it to `post_again` or `relay_sse` as a `functools.partial` over all but
    `error`: one is made for every stream, and a partial costs less than a closure."""
    if not adapter.sampling_refusals.learn(adapter.name, model, error):
        return None
    return adapter._body(request, model, stream, limits)
