"""Rebuild the bundled BPE rank files from the vocabulary in the `quicktok-v1` wheel.

How `switchpoint/tokens/data/*.tiktoken.gz` were made (run once by a developer, never at
run time):

    python tools/rebuild_bpe_vocab.py quicktok_v1-0.4.0-...whl switchpoint/tokens/data

quicktok stores each encoding as `u32 count` then `count` records of `u16 length, bytes,
u32 rank` (little endian). Written back as tiktoken's text format (`base64(token) rank`
per line, in rank order), the result must hash to exactly the sha256 that tiktoken's
`tiktoken_ext/openai_public.py` expects for OpenAI's published file; anything else is
refused, so the shipped files are byte-identical to OpenAI's whatever their route here.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import struct
import sys
import zipfile
from pathlib import Path

# The hashes tiktoken itself pins for OpenAI's files (tiktoken_ext/openai_public.py).
EXPECTED_SHA256 = {
    "o200k": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}


def tiktoken_text(vocab: bytes) -> bytes:
    (count,) = struct.unpack_from("<I", vocab, 0)
    offset = 4
    lines = []
    for _ in range(count):
        (length,) = struct.unpack_from("<H", vocab, offset)
        offset += 2
        token = vocab[offset : offset + length]
        offset += length
        (rank,) = struct.unpack_from("<I", vocab, offset)
        offset += 4
        lines.append((rank, token))
    if offset != len(vocab):
        raise ValueError("trailing bytes after the last record: not a quicktok vocab")
    lines.sort()
    return b"".join(base64.b64encode(token) + b" %d\n" % rank for rank, token in lines)


def main(wheel: str, out_dir: str) -> None:
    with zipfile.ZipFile(wheel) as archive:
        for name, expected in EXPECTED_SHA256.items():
            text = tiktoken_text(archive.read(f"quicktok/data/{name}.vocab"))
            digest = hashlib.sha256(text).hexdigest()
            if digest != expected:
                raise SystemExit(f"{name}: sha256 {digest} != expected {expected}")
            target = Path(out_dir) / f"{name}_base.tiktoken.gz"
            # mtime=0 keeps the .gz byte-identical from one rebuild to the next.
            target.write_bytes(gzip.compress(text, compresslevel=9, mtime=0))
            print(f"{target}: {len(text)} bytes, sha256 {digest} (verified)")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
