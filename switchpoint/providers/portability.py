"""What a client asked for that a vendor of another protocol cannot give.

A request translated to another vendor's protocol loses the fields that protocol has no
equivalent for. Most change only how the answer is produced; those that change the
answer's shape (several choices, log-probabilities, enforced JSON) would leave the client
with an answer other than the one it asked for, without being told, so such a request
is refused for that target instead, unless its encoder translates the field (Gemini's
JSON output).
"""

from __future__ import annotations

from switchpoint.chat.request import ChatRequest
from switchpoint.protocols.openai import PROTOCOL as OPENAI
from switchpoint.protocols.openai.request import answer_shape_fields
from switchpoint.providers.errors import ProviderError


def refuse_unportable(request: ChatRequest, *, honoured: frozenset[str] = frozenset()) -> None:
    """Raise `unsupported` if `request` asks for an answer that a vendor of another
    protocol than OpenAI's (the caller) cannot give; `honoured` names the fields its
    encoder translates. Nothing was sent: the next target of the chain that can give it
    serves the call, and if none can, the client gets a 400 saying why."""
    if request.protocol != OPENAI:
        return
    fields = [
        text for key, text in answer_shape_fields(request.body).items() if key not in honoured
    ]
    if fields:
        raise ProviderError(
            "unsupported",
            f"this model cannot honour {', '.join(fields)}: its vendor's API has no "
            "equivalent; send the request without it, or to a model served over OpenAI's "
            "protocol",
            status=400,
        )
