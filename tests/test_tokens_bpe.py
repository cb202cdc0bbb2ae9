"""The bundled BPE files: verified, offline, identical to tiktoken's reference."""

from __future__ import annotations

import gzip
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
import tiktoken
from tiktoken.load import load_tiktoken_bpe

from switchpoint.tokens import bpe
from tests.conftest import corpus_files
from tests.data.transcripts import generate


@pytest.fixture(scope="module", params=["o200k_base", "cl100k_base"])
def reference(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[bpe.EncodingName, tiktoken.Encoding]:
    """tiktoken's own encoding constructor (tiktoken_ext.openai_public), whose download is
    redirected to the bundled file, read by tiktoken's own loader checking OpenAI's hash."""
    import tiktoken_ext.openai_public as public  # type: ignore[import-untyped]

    name: bpe.EncodingName = request.param
    spec = bpe.SPECS[name]
    raw = gzip.decompress(
        resources.files("switchpoint.tokens").joinpath("data", spec.data_file).read_bytes()
    )
    path = tmp_path_factory.mktemp("bpe") / f"{name}.tiktoken"
    path.write_bytes(raw)

    def offline(blobpath: str, expected_hash: str | None = None) -> dict[bytes, int]:
        assert blobpath.endswith(f"/{name}.tiktoken")
        return load_tiktoken_bpe(str(path), expected_hash=expected_hash)

    mp = pytest.MonkeyPatch()
    mp.setenv("TIKTOKEN_CACHE_DIR", "")  # a local path, and no cache writes
    mp.setattr(public, "load_tiktoken_bpe", offline)
    try:
        kwargs = public.ENCODING_CONSTRUCTORS[name]()
    finally:
        mp.undo()
    kwargs["name"] = f"{name}-reference"
    return name, tiktoken.Encoding(**kwargs)


def test_pattern_and_specials_are_tiktokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our pattern strings and special tokens are those of tiktoken_ext.openai_public
    (its constructors are called with the download replaced by our verified ranks)."""
    import tiktoken_ext.openai_public as public

    def offline(blobpath: str, expected_hash: str | None = None) -> dict[bytes, int]:
        name: bpe.EncodingName = "o200k_base" if "o200k" in blobpath else "cl100k_base"
        assert expected_hash == bpe.SPECS[name].sha256
        return {}

    monkeypatch.setattr(public, "load_tiktoken_bpe", offline)
    names: tuple[bpe.EncodingName, ...] = ("o200k_base", "cl100k_base")
    for name in names:
        official = public.ENCODING_CONSTRUCTORS[name]()
        assert official["pat_str"] == bpe.SPECS[name].pat_str
        assert official["special_tokens"] == bpe.SPECS[name].special_tokens


def test_token_ids_equal_the_reference_on_the_corpus(
    reference: tuple[bpe.EncodingName, tiktoken.Encoding],
) -> None:
    name, ref = reference
    ours = bpe.encoding(name)
    texts = [p.read_text(encoding="utf-8") for p in corpus_files()]
    t = generate(20_000, seed=3)
    texts += [t.system, *(turn.text for turn in t.turns)]
    texts += ["", " ", "\n\n\n", "<|endoftext|> as text", "a" * 5000, "😀" * 50]
    for text in texts:
        assert ours.encode_ordinary(text) == ref.encode_ordinary(text)
        assert bpe.count(name, text) == len(ref.encode_ordinary(text))


def test_a_corrupted_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = bpe.SPECS["cl100k_base"]
    wrong = bpe.EncodingSpec(spec.name, spec.data_file, "0" * 64, spec.pat_str, spec.special_tokens)
    with pytest.raises(bpe.VocabularyIntegrityError, match="sha256"):
        bpe.read_verified_ranks(wrong)


def test_importing_switchpoint_tokens_loads_no_bpe() -> None:
    code = (
        "import sys, time; t = time.perf_counter();"
        "import switchpoint.tokens.counter, switchpoint.context.compress;"
        "print('tiktoken' in sys.modules, time.perf_counter() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,
    ).stdout.split()
    assert out[0] == "False"
    assert float(out[1]) < 1.0
