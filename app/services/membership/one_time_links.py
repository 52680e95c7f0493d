"""Single-use links: e-mail confirmation, passkey recovery (mailed, or a QR handed over at the desk),
and staff invitations. Only a hash of each token is stored; using one is a conditional UPDATE, so a
link opened twice (or on two devices at once) works once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from app.services.membership.passkeys import Authenticated, NewPasskey, passkey_row
from app.services.shared import clock
from db.engine import atomic
from db.tables import Account, Area, AuditLog, Invitation, OneTimeToken, Passkey, Shop

CONFIRM_TTL = timedelta(hours=24)
RECOVERY_TTL = timedelta(minutes=15)
INVITATION_TTL = timedelta(days=7)
ROLES_BY_INVITATION = ("staff", "editor", "shop")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, _hash(token)


async def issue(purpose: str, account_id: int, email: str = "", created_by: int | None = None,
                ttl: timedelta | None = None) -> str:
    """A new link's token (shown or mailed once; only its hash is kept). `ttl` overrides the purpose's own: a
    claim link mailed after a registrant import waits in an inbox for days, not minutes."""
    ttl = ttl or (CONFIRM_TTL if purpose == "confirm_email" else RECOVERY_TTL)
    token, digest = _new_token()
    now = clock.now()
    await OneTimeToken.insert(
        OneTimeToken(
            token_hash=digest,
            purpose=purpose,
            account=account_id,
            email=email,
            created_by=created_by,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    return token


async def issue_desk_recovery(account_id: int, staff_account_id: int) -> str:
    """A recovery link handed over as a QR after staff checked the member's identity at the desk."""
    async with atomic(OneTimeToken._meta.db):
        token = await issue("recovery", account_id, created_by=staff_account_id)
        await AuditLog.insert(
            AuditLog(
                actor=staff_account_id,
                action="account.desk_recovery",
                target_type="account",
                target_id=str(account_id),
                created_at=clock.now(),
            )
        )
    return token


async def use(token: str, purpose: str) -> dict | None:
    """Mark the token used and return its row, or None if it is unknown, used or expired."""
    if not token or len(token) > 100:
        return None
    now = clock.now()
    rows = await OneTimeToken.update({OneTimeToken.used_at: now}).where(
        (OneTimeToken.token_hash == _hash(token))
        & (OneTimeToken.purpose == purpose)
        & OneTimeToken.used_at.is_null()
        & (OneTimeToken.expires_at > now)
    ).returning(OneTimeToken.id, OneTimeToken.account, OneTimeToken.email)
    return rows[0] if rows else None


async def confirm_email(token: str) -> bool:
    """The address is confirmed only if it is still the account's address (it may have changed since)."""
    row = await use(token, "confirm_email")
    if row is None:
        return False
    updated = await Account.update({Account.email_verified_at: clock.now()}).where(
        (Account.id == row["account"]) & (Account.email == row["email"]) & (Account.status == "active")
    ).returning(Account.id)
    return bool(updated)


async def recovery_account_for_email(email: str) -> int | None:
    """The active account a recovery link for this address goes to: one whose address is confirmed, or one no
    passkey was ever added to (a registrant import made it; its claim link may have expired). The link goes to
    the address either way, so only its owner can use it."""
    rows = await Account.select(Account.id, Account.email_verified_at).where(
        (Account.email == email.strip().lower()) & (Account.status == "active")
    ).order_by(Account.id)
    for row in rows:
        if row["email_verified_at"] is not None or not await Passkey.exists().where(Passkey.account == row["id"]):
            return row["id"]
    return None


async def use_recovery(token: str) -> dict | None:
    """Use a recovery link up and return its active account ({id, display_name, webauthn_user_id, email}),
    or None if the link is unknown, used or expired, or the account is no longer active."""
    row = await use(token, "recovery")
    if row is None:
        return None
    if row["email"]:
        # The link was mailed to the account's address and opened: that confirms the address (a claim link after
        # an import is the first mail such an address gets).
        await Account.update({Account.email_verified_at: clock.now()}).where(
            (Account.id == row["account"]) & (Account.email == row["email"]) & Account.email_verified_at.is_null())
    return await Account.select(Account.id, Account.display_name, Account.webauthn_user_id, Account.email).where(
        (Account.id == row["account"]) & (Account.status == "active")
    ).first()


async def invitation_problem(role: str, area_id: int | None, shop_id: int | None) -> str:
    """What is missing from an invitation as the staff filled it in: "role" (not one that can be invited),
    "area" (an editor without an existing area), "shop" (shop staff without an existing shop), or ""."""
    if role not in ROLES_BY_INVITATION:
        return "role"
    if role == "editor" and (area_id is None or not await Area.exists().where(Area.id == area_id)):
        return "area"
    if role == "shop" and (shop_id is None or not await Shop.exists().where(Shop.id == shop_id)):
        return "shop"
    return ""


async def create_invitation(
    role: str, created_by: int | None, area_id: int | None = None, shop_id: int | None = None, note: str = ""
) -> str:
    if role not in ROLES_BY_INVITATION:
        raise ValueError(role)
    if (role == "editor") != (area_id is not None) or (role == "shop") != (shop_id is not None):
        raise ValueError("an editor needs an area, shop staff a shop, and no other role has either")
    token, digest = _new_token()
    now = clock.now()
    async with atomic(Invitation._meta.db):
        invitation = Invitation(
            token_hash=digest,
            role=role,
            area=area_id,
            shop=shop_id,
            note=note[:100],
            created_by=created_by,
            created_at=now,
            expires_at=now + INVITATION_TTL,
        )
        await invitation.save()
        await AuditLog.insert(
            AuditLog(
                actor=created_by,
                action="invitation.create",
                target_type="invitation",
                target_id=str(invitation.id),
                detail={"role": role, "area": area_id, "shop": shop_id, "note": note[:100]},
                created_at=now,
            )
        )
    return token


async def peek_invitation(token: str) -> dict | None:
    """An open invitation's details, for the page the invitee lands on (not yet used up)."""
    if not token or len(token) > 100:
        return None
    return await Invitation.select(
        Invitation.id, Invitation.role, Invitation.note, Invitation.area.name, Invitation.shop.name, Invitation.expires_at
    ).where(
        (Invitation.token_hash == _hash(token)) & Invitation.used_at.is_null() & (Invitation.expires_at > clock.now())
    ).first()


async def accept_invitation(token: str, display_name: str, user_handle: str, passkey: NewPasskey) -> Authenticated | None:
    """Use the invitation up and create the invitee's account with its first passkey, all or nothing.

    Returns the new account, or None when the link is unknown, used or expired.
    """
    now = clock.now()
    async with atomic(Invitation._meta.db):
        rows = await Invitation.update({Invitation.used_at: now}).where(
            (Invitation.token_hash == _hash(token)) & Invitation.used_at.is_null() & (Invitation.expires_at > now)
        ).returning(Invitation.id, Invitation.role, Invitation.area, Invitation.shop)
        if not rows:
            return None
        grant = rows[0]
        account = Account(
            role=grant["role"],
            display_name=display_name,
            webauthn_user_id=user_handle,
            area=grant["area"],
            shop=grant["shop"],
            created_at=now,
            last_login_at=now,
        )
        await account.save()
        await passkey_row(account.id, passkey, "").save()
        await Invitation.update({Invitation.used_by: account.id}).where(Invitation.id == grant["id"])
        await AuditLog.insert(
            AuditLog(
                actor=account.id,
                action="invitation.accept",
                target_type="invitation",
                target_id=str(grant["id"]),
                detail={"role": grant["role"], "area": grant["area"], "shop": grant["shop"]},
                created_at=now,
            )
        )
    return Authenticated(account_id=account.id, role=grant["role"])


async def list_invitations(limit: int = 50) -> list[dict]:
    return await Invitation.select(
        Invitation.id, Invitation.role, Invitation.note, Invitation.area.name, Invitation.shop.name,
        Invitation.created_at, Invitation.expires_at, Invitation.used_at, Invitation.used_by.display_name,
    ).order_by(Invitation.created_at, ascending=False).limit(limit)
