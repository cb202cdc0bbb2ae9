"""The character-class token estimate: o200k tokens predicted from what bytes a text holds.

Each UTF-8 byte of a text falls in one class (ASCII upper/lower letter, digit, space,
newline, punctuation; the lead byte of a 2-byte character, of a 3-byte CJK character, of
another 3-byte script's letter, of a 3-byte symbol, of a 4-byte character; continuation
bytes weigh nothing). The estimate is a weighted sum of the class
counts, with weights fitted against the real o200k BPE on the committed mixed corpus
(`tests/data/token_corpus/`, by `tools/fit_token_estimator.py`, which writes
`charclass_weights.py`). Upper-case letters are their own class because mixed case is
what separates opaque strings (base64, hashes) from words: o200k splits at each case
change, so a base64 blob costs several times more tokens per letter than prose.

Speed is the point: the estimate runs on every request, over megabytes. Python has no
fast byte histogram, so the sum is computed by two C-level passes instead of a loop:
`bytes.translate` maps every byte to its weight (in 1/`SCALE` tokens), then
`zlib.adler32` adds them up. Adler-32's low half is `1 + sum(bytes) mod 65521`, exact as
long as a chunk's sum stays below 65521, so the mapped bytes are summed in chunks sized
from the largest weight. About 2 ns a byte in all (see `bench/tokens_bench.py`).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from typing import Final, Literal

from switchpoint.tokens import charclass_weights as fitted

ByteClass = Literal[
    "upper",
    "lower",
    "digit",
    "space",
    "newline",
    "punct",
    "lead2",
    "cjk",
    "script3",
    "symbol3",
    "lead4",
    "cont",
]

CLASSES: Final[tuple[ByteClass, ...]] = (
    "upper",
    "lower",
    "digit",
    "space",
    "newline",
    "punct",
    "lead2",
    "cjk",
    "script3",
    "symbol3",
    "lead4",
)

# Weights are integers in 1/SCALE of a token, so that a weight fits in one byte.
SCALE: Final = fitted.SCALE


def byte_class(b: int) -> ByteClass:
    if 65 <= b <= 90:
        return "upper"
    if 97 <= b <= 122:
        return "lower"
    if 48 <= b <= 57:
        return "digit"
    if b in (32, 9, 13):  # space, tab, CR: all runs of horizontal whitespace to o200k
        return "space"
    if b == 10:
        return "newline"
    if b < 0x80:
        return "punct"
    if b < 0xC0:
        return "cont"
    if b < 0xE0:
        return "lead2"  # U+0080..U+07FF: Latin accents, Greek, Cyrillic, Hebrew, Arabic
    if b < 0xF0:
        # 0xE3..0xED: U+3000..U+DFFF, i.e. CJK punctuation, kana, CJK ideographs, Hangul.
        if 0xE3 <= b <= 0xED:
            return "cjk"
        # 0xE0..0xE1: U+0800..U+1FFF, the scripts of South and South-East Asia (Devanagari,
        # Bengali, Tamil, Thai...), Georgian, Ethiopic: letters with combining marks,
        # several to a token.
        if b <= 0xE1:
            return "script3"
        # 0xE2, 0xEE, 0xEF: punctuation (dashes, curly quotes), symbols, arrows,
        # dingbats, private use, full-width forms: often a token or more each.
        return "symbol3"
    return "lead4"  # emoji and other astral characters


def _table(weights: Mapping[str, int]) -> bytes:
    return bytes(weights.get(byte_class(b), 0) for b in range(256))


_TABLE: Final = _table(fitted.WEIGHTS)
# The longest chunk whose sum cannot reach Adler-32's modulus (1 + sum <= 65520); ASCII
# text, most of the traffic, has lighter bytes and so gets longer chunks.
_CHUNK: Final = 65519 // max(_TABLE)
_ASCII_CHUNK: Final = 65519 // max(_TABLE[:128])


def units(text: str) -> int:
    """The estimate of `text`, in 1/SCALE tokens (exact integer arithmetic)."""
    if text.isascii():  # O(1): CPython strings know whether they are ASCII
        data = text.encode("ascii").translate(_TABLE)
        chunk = _ASCII_CHUNK
    else:
        # 'surrogatepass': a lone surrogate from a JSON escape must not raise here.
        data = text.encode("utf-8", "surrogatepass").translate(_TABLE)
        chunk = _CHUNK
    n = len(data)
    if n <= chunk:
        return (zlib.adler32(data) & 0xFFFF) - 1
    view = memoryview(data)
    adler = zlib.adler32
    total = sum([adler(view[i : i + chunk]) & 0xFFFF for i in range(0, n, chunk)])
    return total - (n + chunk - 1) // chunk


def units_of_bytes(data: bytes) -> int:
    """`units` of UTF-8 bytes as they are (e.g. a whole JSON body, its syntax included)."""
    weighted = data.translate(_TABLE)
    n = len(weighted)
    if n <= _CHUNK:
        return (zlib.adler32(weighted) & 0xFFFF) - 1
    view = memoryview(weighted)
    adler = zlib.adler32
    total = sum([adler(view[i : i + _CHUNK]) & 0xFFFF for i in range(0, n, _CHUNK)])
    return total - (n + _CHUNK - 1) // _CHUNK


def estimate(text: str) -> int:
    """Estimated o200k tokens of `text` (rounded to nearest)."""
    return (units(text) + SCALE // 2) // SCALE


def class_counts(text: str) -> dict[ByteClass, int]:
    """How many bytes of each class `text` has (slow; for fitting and tests)."""
    counts: dict[ByteClass, int] = dict.fromkeys(CLASSES, 0)
    for b in text.encode("utf-8", "surrogatepass"):
        cls = byte_class(b)
        if cls != "cont":
            counts[cls] += 1
    return counts


# The stated error of one estimate against the exact o200k count of the same text:
#     |exact - estimate| <= R * estimate + S * sqrt(estimate) + A
# holding for every file, paragraph and line of the committed corpus, held out included
# (figures in charclass_weights.py). R is the content-type bias (worst whole file), S the
# extra spread of paragraphs, A that of single lines.
RELATIVE_ERROR: Final = fitted.RELATIVE_ERROR
SQRT_ERROR: Final = fitted.SQRT_ERROR
ABSOLUTE_ERROR: Final = fitted.ABSOLUTE_ERROR


def error_bound(estimated_tokens: int, pieces: int = 1) -> int:
    """The bound on the error of the summed estimate of `pieces` texts.

    The bias term is added across pieces (a request of all-HTML tool output is
    all-HTML-biased); the spread terms are not, as they are the part of each piece's
    error that is not shared (for n pieces the bound uses sqrt(n) * A; with one piece it
    is exactly the per-text bound above). Checked on generated agent transcripts in
    tests/unit/test_tokens_estimate.py, which the fit never saw.
    """
    return (
        int(
            RELATIVE_ERROR * estimated_tokens
            + SQRT_ERROR * math.sqrt(estimated_tokens)
            + ABSOLUTE_ERROR * math.sqrt(pieces)
        )
        + 1
    )
