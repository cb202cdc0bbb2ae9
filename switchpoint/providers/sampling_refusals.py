"""Sampling settings a model refuses, learned from the vendor's own refusals.

OpenAI's reasoning models (the o-series, GPT-5 and later) refuse some sampling
settings: a `temperature` other than 1, `top_p`, the penalties. They answer a 400 that
names the setting (`param`) with the code `unsupported_value` or
`unsupported_parameter`. Which settings a model refuses depends on the model, its
snapshot and its reasoning effort, so no list of models is kept here. When a client
that set one (written for another model, or speaking another vendor's protocol) is
routed to such a model, the gateway, not the client, chose the model: the request is
sent again without the refused setting, the model is remembered as refusing it so that
later requests go without it at once, and the client is told which settings were
dropped (`x-switchpoint-dropped-params`).

Only settings that tune how tokens are sampled are dropped. A refusal of anything that
shapes the answer (stop sequences, JSON output, tools, log-probabilities, several
choices) is the model's limit, not the client's fault: the call goes to the chain's next
model (`unsupported`), and without one the client gets the vendor's 400.
"""

from __future__ import annotations

from typing import Any

from switchpoint.providers.errors import ProviderError

DROPPABLE = frozenset({"temperature", "top_p", "presence_penalty", "frequency_penalty", "seed"})
REFUSAL_CODES = frozenset({"unsupported_value", "unsupported_parameter"})
# A bound on what is remembered: models come from the configuration, so this is only
# a guard against a name set per request.
_MAX_MODELS = 1024


def refused_sampling_setting(error: ProviderError) -> str | None:
    """The sampling setting `error` refuses, if that is all it refuses."""
    if error.status != 400 or error.vendor_type not in REFUSAL_CODES:
        return None
    return error.param if error.param in DROPPABLE else None


class SamplingRefusals:
    """What each model of one provider was seen to refuse."""

    __slots__ = ("_by_model", "seen")

    def __init__(self) -> None:
        self._by_model: dict[str, frozenset[str]] = {}
        # Whether any model refused anything: until one does (with most configurations,
        # never), a request's body is not looked at, which costs one attribute read.
        self.seen = False

    def refused_by(self, model: str) -> frozenset[str]:
        return self._by_model.get(model, frozenset())

    def drop(self, model: str, body: dict[str, Any]) -> tuple[str, ...]:
        """Remove from `body` the settings `model` refuses; the names removed, sorted."""
        refused = self._by_model.get(model)
        if not refused:
            return ()
        dropped = tuple(sorted(name for name in refused if name in body))
        for name in dropped:
            del body[name]
        return dropped

    def learn(self, model: str, error: ProviderError) -> bool:
        """Whether `error` is `model` refusing a sampling setting (now remembered): the
        request may be sent again without it."""
        setting = refused_sampling_setting(error)
        if setting is None:
            return False
        known = self._by_model.get(model, frozenset())
        if setting not in known:
            if len(self._by_model) >= _MAX_MODELS:
                self._by_model.clear()
            self._by_model[model] = known | {setting}
            self.seen = True
        return True
