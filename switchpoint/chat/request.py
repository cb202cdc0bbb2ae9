"""A chat request: the client's wire body, decoded to the internal shape only when needed.

Most traffic is same-protocol (an OpenAI client served by an OpenAI model): the body is
then forwarded with only `model` replaced, which keeps every vendor-specific field the
client sent and costs no translation. Decoding happens lazily, the first time anything
asks for `conversation()` (a cross-protocol adapter, summarization, a continuation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from switchpoint.chat.content import JsonOutput, Message, Text, ToolChoice, ToolSpec


@dataclass(slots=True)
class Conversation:
    messages: list[Message]
    system: list[Text] = field(default_factory=list)
    tools: list[ToolSpec] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = field(default_factory=list)
    user: str | None = None
    json_output: JsonOutput | None = None

    def system_text(self) -> str:
        return "\n\n".join(part.text for part in self.system)


Decoder = Callable[[dict[str, Any]], Conversation]


def append_turn(messages: list[Message], message: Message) -> None:
    """Append `message`, merged into the last turn when it has the same role: the
    internal shape alternates roles, as Anthropic and Gemini require (OpenAI's separate
    `tool` messages, or a Responses call and its parallel siblings, become one turn)."""
    if messages and messages[-1].role == message.role:
        last = messages[-1]
        last.content.extend(message.content)
        last.keep = last.keep or message.keep
    else:
        messages.append(message)


class ChatRequest:
    """One request as the gateway holds it between ingress and the provider adapter.

    `body` is the client's wire body in `protocol`; it stays authoritative while `native`
    is true. Anything that changes the conversation goes through `replaced()`, which
    yields a request that adapters must encode from the internal shape.

    `vendor_headers` are headers of the client's protocol that a vendor speaking the same
    protocol needs to understand the body (Anthropic's `anthropic-beta`); never a
    credential.

    `continues_prefill`: in the client's protocol, a trailing assistant turn is text the
    answer continues (Anthropic's prefill), not an earlier answer (OpenAI's).
    """

    __slots__ = (
        "_conversation",
        "_decoder",
        "_prefill_reader",
        "body",
        "continues_prefill",
        "native",
        "protocol",
        "stream",
        "vendor_headers",
    )

    def __init__(
        self,
        protocol: str,
        body: dict[str, Any],
        *,
        stream: bool,
        decoder: Decoder | None = None,
        conversation: Conversation | None = None,
        vendor_headers: dict[str, str] | None = None,
        continues_prefill: bool = False,
        prefill_reader: Callable[[dict[str, Any]], str] | None = None,
    ) -> None:
        self.protocol = protocol
        self.body = body
        self.stream = stream
        self.vendor_headers = vendor_headers or {}
        self.continues_prefill = continues_prefill
        self._decoder = decoder
        self._prefill_reader = prefill_reader
        self._conversation = conversation
        self.native = conversation is None

    def conversation(self) -> Conversation:
        if self._conversation is None:
            if self._decoder is None:
                raise RuntimeError(f"no decoder for protocol {self.protocol!r}")
            self._conversation = self._decoder(self.body)
        return self._conversation

    def prefill(self) -> str:
        """The text of a trailing assistant turn that the answer continues (a prefill, in
        a protocol where `continues_prefill`), "" if none. While the request is native it
        is read from the body alone: decoding the conversation would refuse blocks that
        only the client's own vendor takes, which a same-protocol target gets as sent."""
        if not self.continues_prefill:
            return ""
        if self._conversation is None and self._prefill_reader is not None:
            return self._prefill_reader(self.body)
        messages = self.conversation().messages
        return messages[-1].text() if messages and messages[-1].role == "assistant" else ""

    def replaced(self, conversation: Conversation) -> ChatRequest:
        """A copy carrying `conversation` instead of the client's original one."""
        request = ChatRequest(
            self.protocol,
            self.body,
            stream=self.stream,
            conversation=conversation,
            vendor_headers=self.vendor_headers,
            continues_prefill=self.continues_prefill,
        )
        request._decoder = self._decoder
        return request
