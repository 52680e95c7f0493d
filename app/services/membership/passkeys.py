"""Passkeys (WebAuthn) with py_webauthn: options, verification and every refusal the security model lists.

py_webauthn checks signatures, origin, rp id, user verification and sign counts, but it does not know
which challenges we issued: challenges live in the AuthChallenge table and are consumed by a conditional
DELETE, so one challenge can answer one ceremony only, and only for five minutes.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse, WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from app.services.shared import clock
from app.services.shared.refusals import Refusal
from db.engine import atomic
from db.tables import Account, AuthChallenge, Passkey

CHALLENGE_TTL = timedelta(minutes=5)
CEREMONY_TIMEOUT_MS = 120_000
MAX_CREDENTIAL_BYTES = 64 * 1024


@dataclass(frozen=True)
class RelyingParty:
    rp_id: str
    name: str
    origins: tuple[str, ...]


class PasskeyError(Refusal):
    """A passkey ceremony refused; the route turns the reason into words."""


@dataclass(frozen=True)
class NewPasskey:
    credential_id: str
    public_key: bytes
    sign_count: int
    aaguid: str
    device_type: str
    backed_up: bool
    transports: list[str]


@dataclass(frozen=True)
class Authenticated:
    account_id: int
    role: str


def new_user_handle() -> str:
    """The WebAuthn user id: random, carrying nothing personal (the spec says it must not)."""
    return bytes_to_base64url(secrets.token_bytes(32))


async def issue_challenge(purpose: str) -> str:
    challenge = bytes_to_base64url(secrets.token_bytes(32))
    await AuthChallenge.insert(
        AuthChallenge(challenge=challenge, purpose=purpose, expires_at=clock.now() + CHALLENGE_TTL)
    )
    return challenge


async def consume_challenge(challenge: str, purpose: str) -> None:
    """Single use: the row is deleted in the same statement that checks it, so a replay finds nothing."""
    deleted = await AuthChallenge.delete().where(
        (AuthChallenge.challenge == challenge)
        & (AuthChallenge.purpose == purpose)
        & (AuthChallenge.expires_at > clock.now())
    ).returning(AuthChallenge.id)
    if not deleted:
        raise PasskeyError("challenge_invalid")


async def purge_expired_challenges() -> None:
    await AuthChallenge.delete().where(AuthChallenge.expires_at <= clock.now())


def registration_options(
    rp: RelyingParty, challenge: str, user_handle: str, user_name: str, display_name: str, exclude: list[str]
) -> str:
    options = generate_registration_options(
        rp_id=rp.rp_id,
        rp_name=rp.name,
        user_id=base64url_to_bytes(user_handle),
        user_name=user_name,
        user_display_name=display_name,
        challenge=base64url_to_bytes(challenge),
        timeout=CEREMONY_TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(c)) for c in exclude],
    )
    return options_to_json(options)


def authentication_options(rp: RelyingParty, challenge: str) -> str:
    options = generate_authentication_options(
        rp_id=rp.rp_id,
        challenge=base64url_to_bytes(challenge),
        timeout=CEREMONY_TIMEOUT_MS,
        allow_credentials=[],  # discoverable credentials: the authenticator offers the account
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json(options)


def _refusal(exc: WebAuthnException) -> PasskeyError:
    """Name py_webauthn's refusals so each gets its own clear message."""
    text = str(exc)
    for needle, code in (
        ("origin", "wrong_origin"),
        ("RP ID", "wrong_rp_id"),
        ("User verification", "user_not_verified"),
        ("sign count", "sign_count_regressed"),
        ("challenge", "challenge_invalid"),
    ):
        if needle in text:
            return PasskeyError(code, text)
    return PasskeyError("verification_failed", text)


def client_challenge(credential: dict) -> str:
    """The challenge the browser signed, read from clientDataJSON, to find the one we issued."""
    try:
        client_data = json.loads(base64url_to_bytes(credential["response"]["clientDataJSON"]))
        challenge = client_data["challenge"]
    except (KeyError, TypeError, ValueError):
        raise PasskeyError("malformed") from None
    if not isinstance(challenge, str) or len(challenge) > 128:
        raise PasskeyError("malformed")
    return challenge


def parse_credential(raw: bytes | str) -> dict:
    if len(raw) > MAX_CREDENTIAL_BYTES:
        raise PasskeyError("malformed")
    try:
        credential = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: deeply nested JSON such as [[[[...]]]]
        raise PasskeyError("malformed") from None
    if not isinstance(credential, dict) or not isinstance(credential.get("response"), dict):
        raise PasskeyError("malformed")
    return credential


async def verify_new_passkey(rp: RelyingParty, credential: dict, expected_challenge: str, purpose: str) -> NewPasskey:
    """Check a navigator.credentials.create() result against the challenge this browser was given."""
    if client_challenge(credential) != expected_challenge:
        raise PasskeyError("challenge_invalid")
    await consume_challenge(expected_challenge, purpose)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(expected_challenge),
            expected_rp_id=rp.rp_id,
            expected_origin=list(rp.origins),
            require_user_verification=True,
        )
    except InvalidRegistrationResponse as exc:
        raise _refusal(exc) from None
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise PasskeyError("malformed", str(exc)) from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if await Passkey.exists().where(Passkey.credential_id == credential_id):
        raise PasskeyError("already_registered")
    transports = t if isinstance(t := credential["response"].get("transports"), list) else []
    return NewPasskey(
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=str(verified.aaguid),
        device_type=verified.credential_device_type.value,
        backed_up=verified.credential_backed_up,
        transports=[t for t in transports if isinstance(t, str)][:8],
    )


def passkey_row(account_id: int, new: NewPasskey, name: str) -> Passkey:
    return Passkey(
        account=account_id,
        credential_id=new.credential_id,
        public_key=new.public_key,
        sign_count=new.sign_count,
        transports=new.transports,
        aaguid=new.aaguid,
        device_type=new.device_type,
        backed_up=new.backed_up,
        name=name[:60],
        created_at=clock.now(),
    )


async def authenticate(rp: RelyingParty, credential: dict, expected_challenge: str) -> Authenticated:
    """Check a navigator.credentials.get() result; on success the passkey's counters are brought forward."""
    if client_challenge(credential) != expected_challenge:
        raise PasskeyError("challenge_invalid")
    await consume_challenge(expected_challenge, "login")
    credential_id = credential.get("id") or credential.get("rawId")
    if not isinstance(credential_id, str):
        raise PasskeyError("malformed")
    row = (
        await Passkey.select(
            Passkey.id,
            Passkey.public_key,
            Passkey.sign_count,
            Passkey.account.id,
            Passkey.account.role,
            Passkey.account.webauthn_user_id,
            Passkey.account.status,
        )
        .where(Passkey.credential_id == credential_id)
        .first()
    )
    if row is None or row["account.status"] != "active":
        raise PasskeyError("unknown_credential")
    user_handle = credential["response"].get("userHandle")
    if not user_handle or user_handle != row["account.webauthn_user_id"]:
        raise PasskeyError("user_handle_mismatch")
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(expected_challenge),
            expected_rp_id=rp.rp_id,
            expected_origin=list(rp.origins),
            credential_public_key=bytes(row["public_key"]),
            credential_current_sign_count=row["sign_count"],
            require_user_verification=True,
        )
    except InvalidAuthenticationResponse as exc:
        raise _refusal(exc) from None
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise PasskeyError("malformed", str(exc)) from None
    # Conditional: a concurrent login with a higher count must not be rolled back by this one.
    await Passkey.update(
        {
            Passkey.sign_count: verified.new_sign_count,
            Passkey.last_used_at: clock.now(),
            Passkey.backed_up: verified.credential_backed_up,
            Passkey.device_type: verified.credential_device_type.value,
        }
    ).where(
        (Passkey.id == row["id"])
        & ((Passkey.sign_count < verified.new_sign_count) | (Passkey.sign_count == 0))
    )
    await Account.update({Account.last_login_at: clock.now()}).where(Account.id == row["account.id"])
    return Authenticated(account_id=row["account.id"], role=row["account.role"])


async def add_passkey(account_id: int, new: NewPasskey, name: str) -> None:
    await passkey_row(account_id, new, name).save()


async def credential_ids(account_id: int) -> list[str]:
    """The account's credentials, oldest first (a passkey list to exclude, or to show, is read in one order on
    both databases: PostgreSQL returns rows in no set order once one has been updated)."""
    rows = await Passkey.select(Passkey.credential_id).where(Passkey.account == account_id).order_by(Passkey.id)
    return [row["credential_id"] for row in rows]


async def user_handle(account_id: int) -> str | None:
    """The account's WebAuthn user id, which every passkey it adds is registered under."""
    row = await Account.select(Account.webauthn_user_id).where(Account.id == account_id).first()
    return row["webauthn_user_id"] if row else None


async def list_passkeys(account_id: int) -> list[dict]:
    return await Passkey.select(
        Passkey.id, Passkey.name, Passkey.device_type, Passkey.backed_up, Passkey.created_at, Passkey.last_used_at
    ).where(Passkey.account == account_id).order_by(Passkey.created_at)


async def rename_passkey(account_id: int, passkey_id: int, name: str) -> bool:
    updated = await Passkey.update({Passkey.name: name[:60]}).where(
        (Passkey.id == passkey_id) & (Passkey.account == account_id)
    ).returning(Passkey.id)
    return bool(updated)


async def remove_passkey(account_id: int, passkey_id: int) -> None:
    """Never the last passkey unless a confirmed e-mail can bring the member back in.

    The count and the delete run in one write transaction, so two removals at once cannot both pass.
    """
    async with atomic(Passkey._meta.db):
        owned = await Passkey.count().where(Passkey.account == account_id)
        if not await Passkey.exists().where((Passkey.id == passkey_id) & (Passkey.account == account_id)):
            raise PasskeyError("not_found")
        if owned <= 1:
            account = await Account.select(Account.email_verified_at).where(Account.id == account_id).first()
            if not account or account["email_verified_at"] is None:
                raise PasskeyError("last_passkey")
        await Passkey.delete().where((Passkey.id == passkey_id) & (Passkey.account == account_id))
