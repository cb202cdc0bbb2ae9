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
# Clients send one member; a few concatenated files are legitimate, thousands are not.
_MAX_MEMBERS = 64
# Input handed to zlib at once: what the copy of a member's leftover input is bounded by.
_FEED_BYTES = 256 * 1024


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
    (RFC 1952 §2.2), each decoded in turn (at most `_MAX_MEMBERS`); anything else after
    the data is refused.

    The input is fed a slice at a time: zlib copies the input left over at a member's
    end, and fed whole that is the rest of the body for every member, quadratic in a
    body of many tiny members (4 MB of empty ones took 10 s, on the event loop)."""
    view = memoryview(data)
    out: list[bytes] = []
    total = offset = members = 0
    while True:
        members += 1
        if members > _MAX_MEMBERS:
            raise MalformedCoding(f"the request body has more than {_MAX_MEMBERS} {name} members")
        inflater = zlib.decompressobj(wbits)
        while not inflater.eof:
            if offset >= len(view):
                raise MalformedCoding(f"the request body is truncated {name} data")
            fed = view[offset : offset + _FEED_BYTES]
            try:
                # Never 0 (which would mean no limit): `total` is at most `limit` here.
                piece = inflater.decompress(fed, limit + 1 - total)
            except zlib.error:
                raise MalformedCoding(f"the request body is not valid {name} data") from None
            total += len(piece)
            if total > limit or inflater.unconsumed_tail:
                raise CodedBodyTooLarge(
                    f"the request body decompresses past the limit of {limit} bytes"
                )
            out.append(piece)
            offset += len(fed) - len(inflater.unused_data)
        if offset == len(view):
            return out[0] if len(out) == 1 else b"".join(out)
        if wbits != _GZIP or view[offset : offset + 2] != _GZIP_MAGIC:
            raise MalformedCoding(f"the request body has data after its {name} data")
