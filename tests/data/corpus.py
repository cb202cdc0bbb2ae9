"""The committed estimator corpus (tests/data/token_corpus/, see its README)."""

from __future__ import annotations

from pathlib import Path

CORPUS_DIR = Path(__file__).parent / "token_corpus"


def corpus_files() -> list[Path]:
    return sorted(CORPUS_DIR.glob("*__*"))
