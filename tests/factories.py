"""Named test people and the few rows tests need, set up without HTTP. Each sets only what tests check."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

from app.services import membership
from app.services.membership import Profile
from app.services.passkeys import NewPasskey, new_user_handle
from db.tables import Account, Area, Shop


def fake_passkey(**changes) -> NewPasskey:
    """A stored credential row for tests that do not exercise WebAuthn itself."""
    values = dict(
        credential_id=secrets.token_urlsafe(16),
        public_key=b"\x00" * 77,
        sign_count=0,
        aaguid="00000000-0000-0000-0000-000000000000",
        device_type="multi_device",
        backed_up=True,
        transports=["internal"],
    )
    values.update(changes)
    return NewPasskey(**values)


async def member(display_name: str = "つなぐ花子", email: str = "", verified: bool = False, **profile) -> membership.Registered:
    fields = {"home_prefecture": "13", "ties": ["workation"], **profile}
    registered = await membership.register_member(
        Profile(display_name=display_name, email=email, **fields), new_user_handle(), fake_passkey(), "テスト端末", "TMK"
    )
    if verified:
        await Account.update({Account.email_verified_at: datetime.now(timezone.utc)}).where(
            Account.id == registered.account_id
        )
    return registered


async def staff_account(display_name: str = "事務局 佐藤", role: str = "staff", **scope) -> int:
    account = Account(role=role, display_name=display_name, webauthn_user_id=new_user_handle(), **scope)
    await account.save()
    return account.id


async def area(name: str = "勇払", slug: str = "yufutsu") -> int:
    row = Area(name=name, slug=slug)
    await row.save()
    return row.id


async def shop(name: str = "ベイサイド・コワーキング") -> int:
    row = Shop(name=name, category="coworking")
    await row.save()
    return row.id
