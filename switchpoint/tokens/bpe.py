"""OpenAI's BPE encodings, loaded offline from files shipped inside this package.

`tiktoken.get_encoding` downloads its rank files on first use, which a gateway must never
do on a request path (and cannot do offline). The rank files are therefore bundled,
gzip-compressed, in `switchpoint/tokens/data/`, and are checked at load against the very
sha256 that tiktoken pins for OpenAI's published files, so a corrupted or substituted file
fails loudly instead of silently miscounting. (`tools/rebuild_bpe_vocab.py` records how
they were made.) Patterns and special tokens are copied from tiktoken 0.14.0's
`tiktoken_ext/openai_public.py`.

Loading is lazy (about 0.7 s of CPU and 80 MB for o200k, 0.3 s and 30 MB for cl100k):
importing switchpoint must stay fast, and the estimate path never needs a BPE. Call
`warm()` from a background thread after start-up to take the cost off the first request
that needs an exact count.
"""

from __future__ import annotations

import binascii
import gzip
import hashlib
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import tiktoken

EncodingName = Literal["o200k_base", "cl100k_base"]

ENDOFTEXT = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
ENDOFPROMPT = "<|endofprompt|>"


@dataclass(frozen=True, slots=True)
class EncodingSpec:
    name: EncodingName
    data_file: str
    sha256: str
    pat_str: str
    special_tokens: dict[str, int]


_O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)

_CL100K_PATTERN = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""  # noqa: E501 (verbatim)

SPECS: dict[EncodingName, EncodingSpec] = {
    "o200k_base": EncodingSpec(
        name="o200k_base",
        data_file="o200k_base.tiktoken.gz",
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        pat_str=_O200K_PATTERN,
        special_tokens={ENDOFTEXT: 199999, ENDOFPROMPT: 200018},
    ),
    "cl100k_base": EncodingSpec(
        name="cl100k_base",
        data_file="cl100k_base.tiktoken.gz",
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        pat_str=_CL100K_PATTERN,
        special_tokens={
            ENDOFTEXT: 100257,
            FIM_PREFIX: 100258,
            FIM_MIDDLE: 100259,
            FIM_SUFFIX: 100260,
            ENDOFPROMPT: 100276,
        },
    ),
}


class VocabularyIntegrityError(RuntimeError):
    """A bundled rank file does not hash to the value OpenAI published."""


def read_verified_ranks(spec: EncodingSpec) -> dict[bytes, int]:
    """The rank table of `spec`, after checking the file's sha256."""
    from importlib import resources  # not at import: it pulls in pathlib and zipfile

    packed = resources.files("switchpoint.tokens").joinpath("data", spec.data_file).read_bytes()
    text = gzip.decompress(packed)
    digest = hashlib.sha256(text).hexdigest()
    if digest != spec.sha256:
        raise VocabularyIntegrityError(
            f"{spec.data_file}: sha256 {digest} does not match the expected {spec.sha256}"
        )
    # Same result as tiktoken.load.load_tiktoken_bpe (`base64(token) rank` per line), but
    # parsed in bulk: a third faster than its line-by-line loop.
    fields = text.split()
    return dict(zip(map(binascii.a2b_base64, fields[0::2]), map(int, fields[1::2]), strict=True))


_encodings: dict[EncodingName, tiktoken.Encoding] = {}
_lock = threading.Lock()


def encoding(name: EncodingName) -> tiktoken.Encoding:
    """The named encoding, loaded and verified on first use, then shared."""
    loaded = _encodings.get(name)
    if loaded is not None:
        return loaded
    with _lock:
        loaded = _encodings.get(name)
        if loaded is None:
            import tiktoken

            spec = SPECS[name]
            loaded = tiktoken.Encoding(
                spec.name,
                pat_str=spec.pat_str,
                mergeable_ranks=read_verified_ranks(spec),
                special_tokens=spec.special_tokens,
            )
            # The encoder keeps its own copy of the ranks (in Rust); the Python dict it
            # also holds is only for pickling, which we never do: ~22 MB for o200k.
            loaded._mergeable_ranks = {}
            _encodings[name] = loaded
    return loaded


def is_loaded(name: EncodingName) -> bool:
    return name in _encodings


def warm(names: tuple[EncodingName, ...] = ("o200k_base",)) -> None:
    """Load encodings ahead of need (blocking: run it in a thread)."""
    for name in names:
        encoding(name)


def count(name: EncodingName, text: str) -> int:
    """Exact token count of `text` as plain text: special-token strings inside it are
    counted as ordinary text, which is what the chat APIs do with user content."""
    return len(encoding(name).encode_ordinary(text))
