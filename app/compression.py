"""Gzip for pages that carry a secret (the CSRF token), without giving BREACH anything to measure.

BREACH guesses a secret from the compressed size of a page that also echoes what the attacker sent: a
guess that matches the secret compresses better. Here the secret never goes through the compressor. The
page is cut at each copy of the token; the pieces between are deflated with the compressor's history
reset at every cut (Z_FULL_FLUSH), so no match reaches across a cut; and each copy of the token is
written as a *stored* deflate block, as it is. The compressed size then does not depend on the token.

The pieces of a page kept by the page cache are deflated once (app/page_cache.py); each answer then only
adds its visitor's token, so a cached page costs no compression at all.
"""

from __future__ import annotations

import struct
import zlib

# Level 6 is zlib's default: most of level 9's gain for a fraction of its time, on two cores.
LEVEL = 6
# A gzip member header with no file name, no time and an unknown OS (RFC 1952 §2.3).
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
# An empty fixed-Huffman block marked final: it ends the deflate stream after the last piece.
FINAL_EMPTY_BLOCK = b"\x03\x00"
# Pages smaller than this are sent as they are: the gzip framing would eat most of the saving.
MIN_BYTES = 512


def cut(body: bytes, secret: bytes) -> tuple[bytes, ...]:
    """The body's pieces between the copies of `secret` (the whole body when there is none)."""
    return tuple(body.split(secret)) if secret else (body,)


def deflate_pieces(pieces: tuple[bytes, ...]) -> tuple[bytes, ...]:
    """Each piece as raw deflate, ending byte-aligned with the history reset, ready to be joined around
    stored blocks."""
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
    return tuple(compressor.compress(piece) + compressor.flush(zlib.Z_FULL_FLUSH) for piece in pieces)


def _stored(data: bytes) -> bytes:
    # After a full flush the stream is byte-aligned: a 0 byte opens a non-final stored block (RFC 1951 §3.2.4).
    return b"\x00" + struct.pack("<HH", len(data), len(data) ^ 0xFFFF) + data


def gzip_around(pieces: tuple[bytes, ...], deflated: tuple[bytes, ...], secret: bytes) -> bytes:
    """The gzip of `secret.join(pieces)`, from the pieces deflated by `deflate_pieces`."""
    out = [GZIP_HEADER]
    crc = 0
    for index, (piece, packed) in enumerate(zip(pieces, deflated, strict=True)):
        if index:
            out.append(_stored(secret))
            crc = zlib.crc32(secret, crc)
        out.append(packed)
        crc = zlib.crc32(piece, crc)
    size = sum(map(len, pieces)) + len(secret) * (len(pieces) - 1)
    out.append(FINAL_EMPTY_BLOCK + struct.pack("<II", crc, size & 0xFFFFFFFF))
    return b"".join(out)


def gzip_page(body: bytes, secret: bytes) -> bytes:
    """A page rendered for one request, compressed around its secret."""
    pieces = cut(body, secret)
    return gzip_around(pieces, deflate_pieces(pieces), secret)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether the client takes gzip (a q=0 refuses it, RFC 9110 §12.5.3)."""
    for part in accept_encoding.lower().split(","):
        coding, _sep, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            quality = params.strip().removeprefix("q=").strip() if params.strip().startswith("q=") else "1"
            try:
                return float(quality) > 0
            except ValueError:
                return False
    return False
