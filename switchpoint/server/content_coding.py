"""Request bodies sent compressed (`Content-Encoding`).

gzip and deflate are decoded, never past the body limit: a few KB of gzip can expand
to gigabytes, so the limit applies to what decompression yields, not to what arrived.
Any other coding is refused by name rather than read as JSON and reported as garbage.
"""

from __future__ import annotations

import zlib

_GZIP = 16 + zlib.MAX_WBITS
_GZIP_MAGIC = b"\x1f\x8b"
# Content-Encoding: deflate is zlib-wrapped by the standard; some clients send it raw.
_ZLIB_OR_RAW = (zlib.MAX_WBITS, -zlib.MAX_WBITS)


class UnsupportedCoding(ValueError):
    """A coding this server does not decode (status 415)."""


class CodedBodyTooLarge(ValueError):
    """The body decompresses past the limit (status 413)."""


class MalformedCoding(ValueError):
    """The body is not valid data of its declared coding (status 400)."""


def decode_body(body: bytes, codings: bytes, limit: int) -> bytes:
    """`body` with the codings of its `Content-Encoding` header undone (they apply in
    the order listed, so they are undone from the last)."""
    names = [name.strip() for name in codings.lower().split(b",")]
    for name in reversed(names):
        if name in (b"", b"identity"):
            continue
        if name in (b"gzip", b"x-gzip"):
            body = _inflate(body, _GZIP, limit, "gzip")
        elif name == b"deflate":
            try:
                body = _inflate(body, _ZLIB_OR_RAW[0], limit, "deflate")
            except MalformedCoding:
                body = _inflate(body, _ZLIB_OR_RAW[1], limit, "deflate")
        else:
            raise UnsupportedCoding(
                f"Content-Encoding {name.decode('latin-1')!r} is not supported: send the "
                "body uncompressed, or as gzip or deflate"
            )
    return body


def _inflate(data: bytes, wbits: int, limit: int, name: str) -> bytes:
    """`data` decoded, never past `limit` bytes. A gzip body may hold several members
    (RFC 1952 §2.2), each decoded in turn; anything else after the data is refused."""
    out: list[bytes] = []
    total = 0
    while True:
        inflater = zlib.decompressobj(wbits)
        try:
            # Never 0 (which would mean no limit): `total` is at most `limit` here.
            piece = inflater.decompress(data, limit + 1 - total)
        except zlib.error:
            raise MalformedCoding(f"the request body is not valid {name} data") from None
        total += len(piece)
        if total > limit or inflater.unconsumed_tail:
            raise CodedBodyTooLarge(
                f"the request body decompresses past the limit of {limit} bytes"
            )
        if not inflater.eof:
            raise MalformedCoding(f"the request body is truncated {name} data")
        out.append(piece)
        data = inflater.unused_data
        if not data:
            return out[0] if len(out) == 1 else b"".join(out)
        if wbits != _GZIP or not data.startswith(_GZIP_MAGIC):
            raise MalformedCoding(f"the request body has data after its {name} data")
