"""Per-message token sizes of a conversation, for planning its compression.

`ConversationSizer` prices each message on its own with the `TokenCounter` estimate and
scales every size by the whole conversation's `upper / tokens`, so that sums of sizes
are as conservative as the conversation's own error bound: a plan that fits the budget
in sizes fits it in billed tokens too (within the stated assumptions).

With `exact=True` every text is counted with the BPE (cached counts first, so an agent
loop's history costs nothing the second time): OpenAI sizes are then exact and the
margin all but vanishes, so the recent window keeps what it is configured to keep
rather than a conservative fraction of it; for other vendors only the vendor ratio's
uncertainty remains in the margin.
"""

from __future__ import annotations

import math

from switchpoint.chat.content import Message
from switchpoint.chat.request import Conversation
from switchpoint.tokens.counter import TokenCounter
from switchpoint.tokens.tally import Tally, add_message, tally_conversation


class ConversationSizer:
    def __init__(
        self,
        counter: TokenCounter,
        conversation: Conversation,
        *,
        model: str,
        provider_type: str,
        provider: str | None = None,
        exact: bool = False,
    ) -> None:
        self.counter = counter
        self.model = model
        self.provider_type = provider_type
        self.provider = provider
        self.exact = exact
        whole = counter.count_conversation(
            conversation,
            model=model,
            provider_type=provider_type,
            provider=provider,
            force_exact=exact,
        )
        self.margin = whole.upper / max(whole.tokens, 1)

    def _size(self, tally: Tally) -> int:
        count = self.counter.count_tally(
            tally,
            model=self.model,
            provider_type=self.provider_type,
            provider=self.provider,
            force_exact=self.exact,
        )
        return math.ceil(count.tokens * self.margin)

    def message(self, message: Message) -> int:
        """Tokens of one message, its framing included (reasoning too: conservative)."""
        tally = Tally(reply_priming=False)
        add_message(tally, message, with_thinking=True)
        return self._size(tally)

    def text(self, text: str) -> int:
        """Tokens of a bare text (no framing)."""
        return self._size(Tally(texts=[text], reply_priming=False))

    def total(self, conversation: Conversation) -> int:
        """The upper end of the whole conversation's count (its own error bound)."""
        count = self.counter.count_conversation(
            conversation,
            model=self.model,
            provider_type=self.provider_type,
            provider=self.provider,
            force_exact=self.exact,
        )
        return count.upper

    def fixed(self, conversation: Conversation) -> int:
        """Tokens of everything but the messages: system prompt, tools, reply priming."""
        tally = tally_conversation(
            Conversation(messages=[], system=conversation.system, tools=conversation.tools)
        )
        return self._size(tally)
