"""What a client asked for that a vendor of another protocol cannot give.

A request translated to another vendor's protocol loses the fields that protocol has no
equivalent for. Most change only how the answer is produced; those that change the
answer's shape (several choices, log-probabilities, enforced JSON) would leave the client
with an answer other than the one it asked for, without being told, so such a request
is refused for that target instead, unless its encoder translates the field (Gemini's
JSON output). A request of the vendor's own protocol keeps its fields, so its adapter
need not ask.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from switchpoint.chat.request import ChatRequest
from switchpoint.protocols import anthropic, openai, openai_responses
from switchpoint.protocols.anthropic import request as anthropic_request
from switchpoint.protocols.openai import request as openai_request
from switchpoint.protocols.openai_responses import request as responses_request
from switchpoint.providers.errors import ProviderError

# The client protocols that can ask for an answer of a shape others cannot give.
_ANSWER_SHAPE_FIELDS: dict[str, Callable[[dict[str, Any]], dict[str, str]]] = {
    openai.PROTOCOL: openai_request.answer_shape_fields,
    openai_responses.PROTOCOL: responses_request.answer_shape_fields,
    anthropic.PROTOCOL: anthropic_request.answer_shape_fields,
}


def refuse_unportable(request: ChatRequest, *, honoured: frozenset[str] = frozenset()) -> None:
    """Raise `unsupported` if `request` asks for an answer that the caller, a vendor of
    another protocol than the request's, cannot give; `honoured` names the fields its
    encoder translates. Nothing was sent: the next target of the chain that can give it
    serves the call, and if none can, the client gets a 400 saying why."""
    shape_fields = _ANSWER_SHAPE_FIELDS.get(request.protocol)
    if shape_fields is None:
        return
    fields = [text for key, text in shape_fields(request.body).items() if key not in honoured]
    if fields:
        raise ProviderError(
            "unsupported",
            f"this model cannot honour {', '.join(fields)}: the gateway does not translate "
            "it for its vendor's API; send the request without it, or to a model served "
            "over the protocol of the request",
            status=400,
        )


def refuse_excess_stops(stop: list[str], limit: int, vendor: str) -> None:
    """Raise `unsupported` if the request has more stop sequences than `vendor` takes
    (OpenAI 4, Gemini 5; Anthropic's clients may send more): nothing is sent, and the
    chain's next target that takes them all serves the call."""
    if len(stop) > limit:
        raise ProviderError(
            "unsupported",
            f"{vendor} takes at most {limit} stop sequences and the request has {len(stop)}; "
            "send fewer, or send the request to another model",
            status=400,
        )
