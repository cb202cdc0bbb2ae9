"""Text fields of a vendor's stream events, which must be strings."""

from __future__ import annotations


def wire_text(value: object) -> str:
    """`value` if it is a string; a TypeError otherwise, which the stream decoders take
    for an event of the wrong shape (skipped and counted, never passed on: a number
    where text belongs would break every consumer downstream)."""
    if value.__class__ is str:
        return value
    raise TypeError(f"expected a string, got {type(value).__name__}")
