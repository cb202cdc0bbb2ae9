"""OpenAI's Responses API as a provider: for the models OpenAI serves only there (its
newest coding and reasoning models), configured as a provider of type `openai_responses`
beside the `openai` one (same key, same errors).

A Responses client's body is forwarded as sent (its reasoning items included, which
only this API reads back), with `model` replaced and `store` off; anything else goes
through the internal conversation. Stop sequences have no equivalent here: a request
with them is refused for this target, and the next one of the chain serves it.
"""

from __future__ import annotations

from typing import Any

from switchpoint.chat.request import ChatRequest
from switchpoint.protocols.openai import PROTOCOL as OPENAI_CHAT
from switchpoint.protocols.openai_responses import PROTOCOL
from switchpoint.protocols.openai_responses.request import add_chat_settings, encode_request
from switchpoint.protocols.openai_responses.response import decode_response
from switchpoint.protocols.openai_responses.stream import StreamDecoder
from switchpoint.providers.errors import ProviderError
from switchpoint.providers.limits import AttemptLimits
from switchpoint.providers.openai import OpenAIAdapter
from switchpoint.providers.output_cap import RESPONSES_FIELDS, cap_fields
from switchpoint.providers.portability import refuse_unportable
from switchpoint.providers.request_body import request_bytes

# The JSON output the encoder translates (`text.format`).
_HONOURED = frozenset({"response_format"})


class OpenAIResponsesAdapter(OpenAIAdapter):
    type = "openai_responses"
    decode_response = staticmethod(decode_response)
    stream_decoder = StreamDecoder

    @property
    def _path(self) -> str:
        return f"{self.base_path}/responses"

    def _body(
        self, request: ChatRequest, model: str, stream: bool, limits: AttemptLimits | None = None
    ) -> bytes:
        limit = self.output_limit(model)
        if request.native and request.protocol == PROTOCOL:
            body: dict[str, Any] = dict(request.body)
            body["model"] = model
            body["store"] = False
            if stream:
                body["stream"] = True
            else:
                body.pop("stream", None)
            if limit is not None and cap_fields(body, RESPONSES_FIELDS, limit):
                self.note_capped(limits, limit)
            if self.sampling_refusals.seen:
                self.note_dropped(limits, self.sampling_refusals.drop(model, body))
            return request_bytes(body)
        refuse_unportable(request, honoured=_HONOURED)
        conversation = request.conversation()
        if conversation.stop:
            raise ProviderError(
                "unsupported",
                f"{self.name} serves this model over OpenAI's Responses API, which has no "
                "stop sequences; send the request without 'stop', or to another model",
                status=400,
            )
        encoded = encode_request(conversation, model, stream=stream)
        if request.protocol == OPENAI_CHAT:
            add_chat_settings(encoded, request.body)
        if limit is not None and cap_fields(encoded, RESPONSES_FIELDS, limit):
            self.note_capped(limits, limit)
        if self.sampling_refusals.seen:
            self.note_dropped(limits, self.sampling_refusals.drop(model, encoded))
        return request_bytes(encoded)
