"""One Web Push message: what it carries, its encryption (RFC 8291) and its VAPID authorization (RFC 8292).

Encryption is about half of what a push costs (bench/push_fanout.py), so it calls the encoder directly and
a VAPID header is signed once per push-service origin, not once per message.
"""

from __future__ import annotations

import base64
import json
import os
import time
from urllib.parse import urlsplit

import http_ece
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

VAPID_LIFETIME_S = 12 * 60 * 60
VAPID_RENEW_BEFORE_S = 60 * 60
RECORD_SIZE = 4096  # RFC 8188 record size; a push message is one record (push_notifications.MAX_PAYLOAD_BYTES keeps it so)


def b64url_decode(text: str) -> bytes:
    """Base64url without padding, as browsers give a subscription's keys."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class VapidSigner:
    """Signs one VAPID header per push-service origin and reuses it until close to its expiry
    (pywebpush would sign for every message, and it changes the claims dict it is given)."""

    def __init__(self, private_key_b64: str, subject: str) -> None:
        self._vapid = Vapid02.from_raw(private_key_b64.encode())
        self._subject = subject
        self._headers: dict[str, tuple[float, str]] = {}

    def authorization(self, endpoint: str, now_s: float | None = None) -> str:
        now_s = time.time() if now_s is None else now_s
        parts = urlsplit(endpoint)
        origin = f"{parts.scheme}://{parts.netloc}"
        cached = self._headers.get(origin)
        if cached and cached[0] - now_s > VAPID_RENEW_BEFORE_S:
            return cached[1]
        expires = int(now_s) + VAPID_LIFETIME_S
        header = self._vapid.sign({"aud": origin, "exp": expires, "sub": self._subject})["Authorization"]
        self._headers[origin] = (expires, header)
        return header



def encrypt(subscription: dict, payload: bytes) -> bytes:
    """The body of a push: RFC 8291 message encryption as one aes128gcm record (RFC 8188), with a new
    ephemeral ECDH key and a new salt for every message.

    http_ece is the encoder pywebpush's `WebPusher.encode` calls; calling it directly skips the wrapper's
    deep copy of the subscription and its repeated serialising of the ephemeral key, ≈ 40 µs of the
    ≈ 230 µs per message, and encryption is most of a sender's work (bench/README.md)."""
    if len(payload) + 17 > RECORD_SIZE:  # the padding delimiter and the GCM tag must fit the one record
        raise ValueError("payload too large for one record")
    return http_ece.encrypt(
        payload, salt=os.urandom(16), private_key=ec.generate_private_key(ec.SECP256R1()),
        dh=b64url_decode(subscription["p256dh"]), auth_secret=b64url_decode(subscription["auth"]),
        version="aes128gcm", rs=RECORD_SIZE,
    )


def payload_for(notification: dict, delivery_id: int) -> bytes:
    """Ids plus a fallback title and body: the worker can show it even if it cannot ask the server."""
    return json.dumps({
        "id": delivery_id, "notification": notification["id"], "title": notification["title"],
        "body": notification["body"], "url": notification["url"] or "/inbox", "tag": f"n{notification['id']}",
    }, ensure_ascii=False).encode("utf-8")
