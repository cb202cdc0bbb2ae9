# ruff: noqa: RUF001  (multilingual test text: its "ambiguous" characters are the point)
"""The character-class estimator: exact arithmetic, and its stated error, measured."""

from __future__ import annotations

import math

import pytest

from switchpoint.tokens import bpe, charclass
from switchpoint.tokens.tally import tally_openai_chat
from tests.conftest import corpus_files, transcript
from tests.data.transcripts import openai_body


def slow_units(text: str) -> int:
    table = charclass._TABLE
    return sum(table[b] for b in text.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a",
        "hello world",
        "x" * (charclass._ASCII_CHUNK - 1),
        "Z" * charclass._ASCII_CHUNK,
        "Z" * (charclass._ASCII_CHUNK + 1),
        "Q" * 100_003,
        "你好，世界" * 9_000,
        "😀" * 4_001 + "abc",
        "lone \ud800 surrogate",
    ],
)
def test_units_equal_the_plain_weighted_sum(text: str) -> None:
    """The Adler-32 chunking trick is exact, at and around chunk boundaries too."""
    assert charclass.units(text) == slow_units(text)


def test_every_corpus_file_is_within_the_stated_bound() -> None:
    worst: dict[str, float] = {}
    for path in corpus_files():
        text = path.read_text(encoding="utf-8")
        exact = bpe.count("o200k_base", text)
        est = charclass.estimate(text)
        assert abs(exact - est) <= charclass.error_bound(est, 1), path.name
        category = path.name.split("__")[0]
        worst[category] = max(worst.get(category, 0.0), abs(exact - est) / exact)
    # The per-category figures stated in charclass_weights.py / docs/tokens.md.
    stated = {
        "cjk": 0.08,
        "code": 0.25,
        "json": 0.09,
        "logs": 0.13,
        "opaque": 0.16,
        "other": 0.15,
        "prose": 0.10,
    }  # in-sample, rounded up
    assert set(worst) == set(stated)
    for category, value in worst.items():
        assert value <= stated[category], (category, value)


def test_every_corpus_paragraph_and_line_is_within_the_bound() -> None:
    for path in corpus_files():
        text = path.read_text(encoding="utf-8")
        for piece in [*text.split("\n\n"), *text.splitlines()]:
            if piece.strip():
                exact = bpe.count("o200k_base", piece)
                est = charclass.estimate(piece)
                assert abs(exact - est) <= charclass.error_bound(est, 1), (path.name, piece[:60])


@pytest.mark.parametrize("target,seed", [(20_000, 1), (120_000, 2), (400_000, 5)])
def test_generated_transcripts_held_out(target: int, seed: int) -> None:
    """Transcripts were never seen by the fit: per message and whole, within the bound."""
    t = transcript(target, seed)
    tally = tally_openai_chat(openai_body(t))
    exact_total = 0
    est_total = 0
    for text in tally.texts:
        exact = bpe.count("o200k_base", text)
        est = charclass.estimate(text)
        assert abs(exact - est) <= charclass.error_bound(est, 1), text[:80]
        exact_total += exact
        est_total += charclass.units(text)
    est_total = round(est_total / charclass.SCALE)
    bound = charclass.error_bound(est_total, len(tally.texts))
    assert abs(exact_total - est_total) <= bound
    # And the estimate is far better than the bound on this mix (measured: 6-10% high).
    assert abs(exact_total - est_total) / exact_total < 0.15


def test_bound_form() -> None:
    assert charclass.error_bound(0, 1) == math.floor(charclass.ABSOLUTE_ERROR) + 1
    small, large = charclass.error_bound(100, 1), charclass.error_bound(1_000_000, 1000)
    assert small < 100
    assert 0.25 * 1_000_000 < large < 0.27 * 1_000_000


SCRIPTS = {
    "greek": "Ελληνικά κείμενα για δοκιμή της καταμέτρησης ",
    "russian": "Русский текст для проверки подсчёта токенов ",
    "hindi": "हिंदी पाठ टोकन गिनती की जांच के लिए ",
    "arabic": "نص عربي لاختبار عد الرموز في النظام ",
    "thai": "ข้อความภาษาไทยสำหรับทดสอบการนับโทเค็น ",
    "chinese": "用于测试词元计数的中文文本，",
    "korean": "토큰 수를 세는 것을 확인하기 위한 한국어 문장 ",
    "emoji": "😀🎉🚀👍🔥 ",
}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_other_scripts_held_out(script: str) -> None:
    """Sentences not in the corpus, one script each (Arabic is in no corpus file at all)."""
    text = SCRIPTS[script] * 30
    exact = bpe.count("o200k_base", text)
    est = charclass.estimate(text)
    assert abs(exact - est) <= charclass.error_bound(est, 1), (exact, est)
