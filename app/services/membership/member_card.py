"""The member card at a counter, a venue or the desk: whose card a scanned code is, or why it is refused."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from app.i18n import TOKYO, to_tokyo
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

# Long enough for a card opened offline on a trip; the live clock, not the expiry, defeats screenshots.
CARD_TOKEN_DAYS = 7


def card_expiry(now: datetime) -> datetime:
    """When a card code shown now expires: midnight in Japan, seven to eight days ahead. The same all day, so a
    member's code (its signature is deterministic) is the same all day too, and its QR is drawn once a day
    (app/qr.py keeps it) instead of at every opening of the card."""
    day = to_tokyo(now).date() + timedelta(days=CARD_TOKEN_DAYS + 1)
    return datetime.combine(day, time.min, tzinfo=TOKYO)


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
