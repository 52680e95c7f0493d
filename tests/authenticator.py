"""A software WebAuthn authenticator for tests: what `navigator.credentials.create()` and `.get()` return,
serialised as the JSON the browser's `toJSON()` gives and py_webauthn accepts.

It keeps its credentials (a discoverable-credential store: private key, credential id, user handle,
counter), so a passkey made at registration logs in later. Every part a browser or an authenticator
could get wrong, or an attacker could forge, can be set per call: origin, rp id (the rpIdHash),
the UV and UP flags, the sign count, the userHandle, the challenge.

    authenticator = SoftwareAuthenticator()
    answer = authenticator.create(registration_options_json)      # attestation "none"
    answer = authenticator.get(authentication_options_json)       # assertion, signed with ES256
"""

from __future__ import annotations

import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

ORIGIN = "http://localhost:8000"

# Authenticator data flags (WebAuthn §6.1).
UP = 0x01  # user present
UV = 0x04  # user verified
BE = 0x08  # backup eligible (a passkey that can be synced)
BS = 0x10  # backed up (it is synced)
AT = 0x40  # attested credential data included

_DEFAULT = object()  # "not given": lets None mean "leave the field out"


class CredentialExcluded(Exception):
    """What a browser reports (InvalidStateError) when the options exclude a credential it holds."""


class NoCredential(Exception):
    """The authenticator holds no (or no single) passkey for this site: the browser would show nothing."""


def b64(data: bytes) -> str:
    return bytes_to_base64url(data)


@dataclass
class Credential:
    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: str  # base64url, as the server sent user.id
    user_name: str = ""
    sign_count: int = 0
    synced: bool = False  # synced passkeys (iCloud, Google) report BE|BS and a counter stuck at 0

    @property
    def id(self) -> str:
        return b64(self.credential_id)

    def cose_public_key(self) -> bytes:
        numbers = self.private_key.public_key().public_numbers()
        return cbor2.dumps(
            {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        )


@dataclass
class SoftwareAuthenticator:
    origin: str = ORIGIN
    synced: bool = False  # the kind of passkeys this authenticator makes
    aaguid: bytes = bytes(16)
    credentials: list[Credential] = field(default_factory=list)

    # --- navigator.credentials.create() -------------------------------------------------------

    def create(
        self,
        options: str | dict,
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        challenge: str | None = None,
        user_verified: bool = True,
        user_present: bool = True,
        sign_count: int = 0,
        credential_id: bytes | str | None = None,
        synced: bool | None = None,
        respect_exclude: bool = True,
        keep: bool = True,
    ) -> dict:
        """Make a new passkey for `options` (PublicKeyCredentialCreationOptions JSON) and answer with it.

        `rp_id` changes only the rpIdHash the authenticator signs; `origin` and `challenge` only what the
        "browser" writes into clientDataJSON; `credential_id` forces an id (e.g. one already registered).
        """
        options = _options(options)
        site = options["rp"].get("id") or "localhost"
        if respect_exclude:
            held = {c.id for c in self.credentials if c.rp_id == site}
            if any(d["id"] in held for d in options.get("excludeCredentials") or []):
                raise CredentialExcluded("this authenticator already holds a passkey for this account")
        if isinstance(credential_id, str):
            credential_id = base64url_to_bytes(credential_id)
        synced = self.synced if synced is None else synced
        credential = Credential(
            credential_id=credential_id or secrets.token_bytes(32),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            rp_id=site,
            user_handle=options["user"]["id"],
            user_name=options["user"].get("name", ""),
            sign_count=sign_count,
            synced=synced,
        )
        client_data = _client_data("webauthn.create", challenge or options["challenge"], origin or self.origin)
        flags = _flags(user_present, user_verified, synced) | AT
        attested = self.aaguid + struct.pack(">H", len(credential.credential_id)) + credential.credential_id
        auth_data = _authenticator_data(rp_id or site, flags, sign_count) + attested + credential.cose_public_key()
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        if keep:  # a new passkey with a forced id takes the place of the one that had it
            self.credentials = [c for c in self.credentials if c.credential_id != credential.credential_id]
            self.credentials.append(credential)
        return {
            "id": credential.id,
            "rawId": credential.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(client_data),
                "attestationObject": b64(attestation),
                "transports": ["hybrid", "internal"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    # --- navigator.credentials.get() ----------------------------------------------------------

    def get(
        self,
        options: str | dict,
        *,
        credential: Credential | str | None = None,
        origin: str | None = None,
        rp_id: str | None = None,
        challenge: str | None = None,
        user_verified: bool = True,
        user_present: bool = True,
        sign_count: int | None = None,
        user_handle=_DEFAULT,
    ) -> dict:
        """Sign an assertion for `options` (PublicKeyCredentialRequestOptions JSON).

        The passkey is `credential` (object or id) or, as a discoverable credential, the only one this
        authenticator holds for the site. `sign_count` sets the counter (and keeps it); otherwise it
        goes up by one, or stays 0 for a synced passkey. `user_handle=None` leaves userHandle out.
        """
        options = _options(options)
        site = options.get("rpId") or "localhost"
        chosen = self.credential(credential, site, [d["id"] for d in options.get("allowCredentials") or []])
        if sign_count is not None:
            chosen.sign_count = sign_count
        elif not chosen.synced:
            chosen.sign_count += 1
        client_data = _client_data("webauthn.get", challenge or options["challenge"], origin or self.origin)
        auth_data = _authenticator_data(
            rp_id or site, _flags(user_present, user_verified, chosen.synced), chosen.sign_count
        )
        signature = chosen.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        response = {
            "clientDataJSON": b64(client_data),
            "authenticatorData": b64(auth_data),
            "signature": b64(signature),
        }
        handle = chosen.user_handle if user_handle is _DEFAULT else user_handle
        if handle is not None:
            response["userHandle"] = handle
        return {
            "id": chosen.id,
            "rawId": chosen.id,
            "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def credential(self, wanted: Credential | str | None = None, rp_id: str = "localhost", allowed=()) -> Credential:
        if isinstance(wanted, Credential):
            return wanted
        candidates = [
            c for c in self.credentials
            if c.rp_id == rp_id and (wanted is None or c.id == wanted) and (not allowed or c.id in allowed)
        ]
        if len(candidates) != 1:
            raise NoCredential(f"{len(candidates)} passkeys match; pass credential= to choose one")
        return candidates[0]


def _options(options: str | dict) -> dict:
    return json.loads(options) if isinstance(options, (str, bytes)) else options


def _client_data(kind: str, challenge: str, origin: str) -> bytes:
    return json.dumps(
        {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}, separators=(",", ":")
    ).encode()


def _flags(user_present: bool, user_verified: bool, synced: bool) -> int:
    return (UP if user_present else 0) | (UV if user_verified else 0) | (BE | BS if synced else 0)


def _authenticator_data(rp_id: str, flags: int, sign_count: int) -> bytes:
    return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", sign_count)
