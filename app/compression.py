"""Gzip for pages that carry a secret (the CSRF token), without giving BREACH anything to measure.

BREACH guesses a secret from the compressed size of a page that also echoes what the attacker sent: a
guess that matches the secret compresses better. Here the secret never goes through the compressor. The
page is cut at each copy of the token; the pieces between are deflated with the compressor's history
reset at every cut (Z_FULL_FLUSH), so no match reaches across a cut; and each copy of the token is
written as a *stored* deflate block, as it is. The compressed size then does not depend on the token.

The pieces of a page kept by the page cache are deflated once (app/page_cache.py); each answer then only
adds its visitor's token, so a cached page costs no compression at all. Static files, which hold no secret,
are compressed once per process at the best levels (`CompressedFiles`).
"""

from __future__ import annotations

import gzip
import struct
import zlib

import brotli
from litestar.types import ASGIApp, Message, Receive, Scope, Send

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


def accepts(accept_encoding: str, coding: str) -> bool:
    """Whether the client takes `coding` ("gzip", "br"); a q=0 refuses it (RFC 9110 §12.5.3)."""
    for part in accept_encoding.lower().split(","):
        name, _sep, params = part.strip().partition(";")
        if name.strip() in (coding, "*"):
            quality = params.strip().removeprefix("q=").strip() if params.strip().startswith("q=") else "1"
            try:
                return float(quality) > 0
            except ValueError:
                return False
    return False


def accepts_gzip(accept_encoding: str) -> bool:
    return accepts(accept_encoding, "gzip")


class CompressedFiles:
    """Static files compressed once per process and served from memory: brotli at its best level where the
    browser takes it, gzip at level 9 otherwise. The best levels cost tens of milliseconds a file, which is why
    compressing on every request uses low ones; done once, they cut a first visit's bytes (htmx alone by a
    sixth) and a broadcast's wave of first visits costs no compression at all. The files are the app's own,
    a few hundred kilobytes in all, and change only with a new release (a new process)."""

    TYPES = (b"text/", b"application/javascript", b"application/json", b"image/svg+xml", b"application/manifest+json")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._kept: dict[tuple[str, str], tuple[int, list[tuple[bytes, bytes]], bytes]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        wanted = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"accept-encoding"), "")
        coding = "br" if accepts(wanted, "br") else "gzip" if accepts(wanted, "gzip") else ""
        key = (scope["path"], coding)
        kept = self._kept.get(key)
        if kept is None:
            kept = await self._answer(scope, receive, coding)
            if kept[0] == 200:
                self._kept[key] = kept
        status, headers, body = kept
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    async def _answer(self, scope: Scope, receive: Receive, coding: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        start: dict = {}
        chunks: list[bytes] = []

        async def collect(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app({**scope, "method": "GET"}, receive, collect)
        body = b"".join(chunks)
        # The length changes, and ranges and the validators name the file as it is on disk, not as sent.
        dropped = (b"content-length", b"accept-ranges", b"etag")
        headers = [(name, value) for name, value in start.get("headers", []) if name not in dropped]
        content_type = next((value for name, value in headers if name == b"content-type"), b"")
        if coding and start.get("status") == 200 and content_type.startswith(self.TYPES) and len(body) >= MIN_BYTES:
            body = brotli.compress(body, quality=11) if coding == "br" else gzip.compress(body, 9, mtime=0)
            headers += [(b"content-encoding", coding.encode()), (b"vary", b"Accept-Encoding")]
        headers.append((b"content-length", str(len(body)).encode()))
        return start.get("status", 500), headers, body
