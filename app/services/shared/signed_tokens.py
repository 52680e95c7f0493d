"""Compact signed tokens for QR codes (member card, wallet, an activity's check-in code) and links in mails (the
digest's one-click unsubscribe), after pretix's signed ticket secrets.

Layout, before base32: version (1 byte) | key id (1) | kind (1) | subject id (uvarint) | expiry in
unix minutes (uvarint) | Ed25519 signature (64) over everything before it. Verifying needs only the
public key: no database lookup of a secret. Base32 (not base64) so the QR can use its compact
alphanumeric mode and a person can type the code if the camera fails.
"""

from __future__ import annotations

import base64
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from app.services.shared.refusals import Refusal

VERSION = 1
SIGNATURE_BYTES = 64
KINDS = {"card": 1, "wallet": 2, "check_in": 3, "unsubscribe": 4}
KIND_NAMES = {value: name for name, value in KINDS.items()}
REMEMBERED_SIGNATURES = 4096  # codes of about 200 bytes each: under a megabyte


class TokenError(Refusal, ValueError):
    """The code is not one of ours: damaged, forged, expired or of the wrong kind. `reason` says which."""


@dataclass(frozen=True)
class TokenClaims:
    kind: str
    subject_id: int
    expires_at: datetime


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_uvarint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    for _ in range(10):  # bounded: a uvarint of a 64-bit value has at most 10 bytes
        if pos >= len(data):
            raise TokenError("damaged")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
    raise TokenError("damaged")


class TokenSigner:
    def __init__(self, private_key_b64: str) -> None:
        raw = base64.urlsafe_b64decode(private_key_b64 + "=" * (-len(private_key_b64) % 4))
        self._private = ed25519.Ed25519PrivateKey.from_private_bytes(raw)
        public = self._private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = hashlib.sha256(public).digest()[0]
        # Rotating keys: older public keys can be added here by key id and keep verifying.
        self._public = {self.key_id: self._private.public_key()}
        # The same code is checked again and again: the counter's preview and then its use, a member card at every
        # venue of the day. Ed25519's check is most of a verification (0.13 of 0.15 ms here), and a signature that
        # held over exactly these bytes holds again, so the codes that passed it last are remembered (what the
        # code says, its kind and expiry, is read and checked every time).
        self._signed: OrderedDict[bytes, None] = OrderedDict()

    def public_keys(self) -> dict[int, bytes]:
        """The raw public keys by key id: what a phone needs to check a code with no network."""
        return {key_id: key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
                for key_id, key in self._public.items()}

    def sign(self, kind: str, subject_id: int, expires_at: datetime) -> str:
        minutes = int(expires_at.timestamp() // 60)
        body = bytes([VERSION, self.key_id, KINDS[kind]]) + _uvarint(subject_id) + _uvarint(minutes)
        raw = body + self._private.sign(body)
        return base64.b32encode(raw).decode("ascii").rstrip("=")

    def verify(self, token: str, kind: str, now: datetime) -> TokenClaims:
        cleaned = "".join(token.split()).upper().replace("-", "")
        if not cleaned or len(cleaned) > 200:
            raise TokenError("damaged")
        try:
            raw = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
        except (ValueError, base64.binascii.Error):
            raise TokenError("damaged") from None
        if len(raw) < 3 + 2 + SIGNATURE_BYTES or raw[0] != VERSION:
            raise TokenError("damaged")
        body, signature = raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]
        public = self._public.get(body[1])
        if public is None:
            raise TokenError("forged")
        if raw in self._signed:
            self._signed.move_to_end(raw)
        else:
            try:
                public.verify(signature, body)
            except InvalidSignature:
                raise TokenError("forged") from None
            self._signed[raw] = None
            if len(self._signed) > REMEMBERED_SIGNATURES:
                self._signed.popitem(last=False)
        if KIND_NAMES.get(body[2]) != kind:
            raise TokenError("wrong_kind")
        subject_id, pos = _read_uvarint(body, 3)
        minutes, pos = _read_uvarint(body, pos)
        if pos != len(body):
            raise TokenError("damaged")
        expires_at = datetime.fromtimestamp(minutes * 60, tz=timezone.utc)
        if expires_at <= now:
            raise TokenError("expired")
        return TokenClaims(kind=kind, subject_id=subject_id, expires_at=expires_at)
