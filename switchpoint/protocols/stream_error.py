"""An error a vendor reported inside a stream, as every vendor's stream decoder raises it.

The three wire formats carry it differently (OpenAI and Gemini as a `data:` object with
an `error` member, Anthropic as `event: error`); the decoders unwrap it to the vendor's
error object, which each adapter classifies in its own terms.
"""

from __future__ import annotations


class StreamErrorEvent(Exception):
    """The provider reported an error inside the stream; `error` is its error object."""

    def __init__(self, error: object) -> None:
        message = error.get("message") if isinstance(error, dict) else None
        super().__init__(str(message or error))
        self.error = error
