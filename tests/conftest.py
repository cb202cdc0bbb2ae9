"""Shared fixtures: the committed estimator corpus and generated transcripts (cached per
worker process: generating 1M tokens takes about a second)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from tests.data.transcripts import Transcript, generate

CORPUS_DIR = Path(__file__).parent / "data" / "token_corpus"


def corpus_files() -> list[Path]:
    return sorted(CORPUS_DIR.glob("*__*"))


@lru_cache(maxsize=8)
def transcript(target_tokens: int, seed: int = 0) -> Transcript:
    return generate(target_tokens, seed=seed)
