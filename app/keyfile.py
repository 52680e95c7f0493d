"""Secrets generated on first run and kept in var/secrets.json (mode 0600).

Several app processes on one host share the file; scaled out over hosts, give the same values
through the environment instead (see README).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_vapid_keys() -> tuple[str, str]:
    """Return (private key as PEM-less base64url of the raw scalar, public key as base64url point).

    Both forms are what pywebpush/py_vapid and the browser's PushManager take.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(private), b64url(public)


def new_signing_key() -> str:
    raw = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return b64url(raw)


def generate_secrets() -> dict[str, str]:
    vapid_private, vapid_public = new_vapid_keys()
    return {
        "secret_key": secrets.token_urlsafe(48),
        "vapid_private_key": vapid_private,
        "vapid_public_key": vapid_public,
        "signing_key": new_signing_key(),
    }


def load_or_create_secrets(var_dir: Path, given: dict[str, str]) -> dict[str, str]:
    """Values given (from the environment) win; the rest come from the key file, made if missing."""
    path = var_dir / "secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
    missing = [name for name in given if not given[name] and not stored.get(name)]
    if missing:
        fresh = generate_secrets()
        # A VAPID pair is only valid together: regenerate both if either is missing.
        if "vapid_private_key" in missing or "vapid_public_key" in missing:
            missing = sorted(set(missing) | {"vapid_private_key", "vapid_public_key"})
        stored.update({name: fresh[name] for name in missing})
        var_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(stored, fh, indent=2)
        os.replace(tmp, path)
    return {name: given[name] or stored[name] for name in given}
