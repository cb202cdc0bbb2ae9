"""Measure how open models' tokenizers compare to o200k on the estimator corpus.

    python tools/measure_open_model_ratios.py quicktok_v1-0.4.0-...whl

The default ratio for `openai_compatible` providers serving an unknown model
(`tokenizers.OTHER`) is set from this: the Llama 3 and Qwen 2.5/3 vocabularies bundled
in the quicktok-v1 wheel, with their published pre-tokenizer patterns, against o200k,
per corpus category. Dev-time only: nothing here ships or runs in the gateway.
"""

from __future__ import annotations

import base64
import sys
import unicodedata
import zipfile
from collections import defaultdict
from pathlib import Path

import tiktoken

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from switchpoint.tokens import bpe
from tools.rebuild_bpe_vocab import tiktoken_text

# Meta's Llama 3 tokenizer.py and Qwen2's tokenizer.json pre-tokenizer.
PATTERNS = {
    "llama3": r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",  # noqa: E501
    "qwen3": r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",  # noqa: E501
}


def load(wheel: str, name: str) -> tiktoken.Encoding:
    with zipfile.ZipFile(wheel) as archive:
        text = tiktoken_text(archive.read(f"quicktok/data/{name}.vocab"))
    fields = text.split()
    ranks = {base64.b64decode(t): int(r) for t, r in zip(fields[0::2], fields[1::2], strict=True)}
    return tiktoken.Encoding(name, pat_str=PATTERNS[name], mergeable_ranks=ranks, special_tokens={})


def main(wheel: str) -> None:
    encodings = {name: load(wheel, name) for name in PATTERNS}
    totals: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for path in sorted(Path("tests/data/token_corpus").glob("*__*")):
        text = path.read_text(encoding="utf-8")
        category = path.name.split("__")[0]
        base = bpe.count("o200k_base", text)
        for name, enc in encodings.items():
            # Qwen normalizes to NFC first; harmless for Llama (text already NFC here).
            n = len(enc.encode_ordinary(unicodedata.normalize("NFC", text)))
            totals[name][category][0] += n
            totals[name][category][1] += base
    for name, per_category in totals.items():
        ratios = {c: round(a / b, 3) for c, (a, b) in sorted(per_category.items())}
        print(name, ratios, "min", min(ratios.values()), "max", max(ratios.values()))


if __name__ == "__main__":
    main(sys.argv[1])
