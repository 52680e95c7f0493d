"""The member card at a counter, a venue or the desk: whose card a scanned code is, or why it is refused."""

from __future__ import annotations

from datetime import datetime

from app.i18n import lazy_gettext as _l
from app.services.shared.signed_tokens import TokenError, TokenSigner
from db.tables import Member

CARD_REFUSALS = {
    "damaged": _l("The code could not be read. Ask the member to show the card again."),
    "forged": _l("This code was not issued by us."),
    "wrong_kind": _l("This is not a member card code."),
    "expired": _l("This card code has expired. Ask the member to open the card while online."),
    "unknown": _l("No member has this card any more."),
}


async def card_holder(signer: TokenSigner, code: str, now: datetime) -> dict:
    """The active member a card code belongs to; TokenError (reason in CARD_REFUSALS) for anything else."""
    claims = signer.verify(code, "card", now)
    member = await Member.select(
        Member.id, Member.member_no, Member.tier, Member.premium_until, Member.created_at, Member.home_prefecture,
        Member.account.display_name.as_alias("display_name"), Member.account.status.as_alias("account_status"),
    ).where(Member.id == claims.subject_id).first()
    if member is None or member["account_status"] != "active":
        raise TokenError("unknown")
    return member
