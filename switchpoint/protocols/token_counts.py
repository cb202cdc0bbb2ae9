"""Token counts as vendors report them in their usage objects."""

from __future__ import annotations

# Far past any real call (a trillion tokens). A count beyond it is garbage, and would
# overflow the 64-bit integers of JSON encoders and of the ledger's columns.
from switchpoint.config.schema import MAX_TOKEN_COUNT

__all__ = ["MAX_TOKEN_COUNT", "token_count"]


def token_count(value: object) -> int | None:
    """`value` as a token count, or None when it is not one (absent, a boolean, a string,
    a fraction, negative, past `MAX_TOKEN_COUNT`)."""
    if value.__class__ is int or value.__class__ is float:
        number: float = value
        if 0 <= number <= MAX_TOKEN_COUNT and number == int(number):
            return int(number)
    return None
