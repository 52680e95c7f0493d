"""The digital member card (会員証) and checking one at a counter, a venue or the desk."""

from __future__ import annotations

from datetime import timedelta

from litestar import Request, get
from litestar.params import FromQuery

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.qr import qr_svg
from app.rendering import page
from app.services import clock, membership, programs
from app.services.signed_tokens import TokenError, TokenSigner
from db.tables import Member

# Long enough for a card opened offline on a trip; the live clock, not the expiry, defeats screenshots.
CARD_TOKEN_TTL = timedelta(days=7)

REFUSALS = {
    "damaged": _l("The code could not be read. Ask the member to show the card again."),
    "forged": _l("This code was not issued by us."),
    "wrong_kind": _l("This is not a member card code."),
    "expired": _l("This card code has expired. Ask the member to open the card while online."),
    "unknown": _l("No member has this card any more."),
}


def signer(request: Request) -> TokenSigner:
    return TokenSigner(request.app.state.settings.signing_key)


@get("/card", name="get_card", guards=[guards.member], cache_control=None)
async def get_card(request: Request) -> object:
    account = current_account(request)
    member = await membership.member_for_account(account.id)
    now = clock.now()
    token = signer(request).sign("card", member["id"], now + CARD_TOKEN_TTL)
    context = {
        "account": account,
        "member": member,
        "tier": membership.effective_tier(member, now.date()),
        "areas": await membership.followed_areas(member["id"]),
        "activities": await programs.activity_count(member["id"], programs.fiscal_year_of(now)),
        "qr": qr_svg(token, _("Member card QR code")),
        "token": token,
        "issued_at": now,
    }
    # no-cache (not no-store): the service worker keeps the card for offline use until logout.
    return page(request, "card/card.html", context)


@get("/cards/verify", name="verify_card", guards=[guards.card_checker], cache_control=None)
async def verify_card(request: Request, code: FromQuery[str] = "") -> object:
    result = None
    if code:
        try:
            claims = signer(request).verify(code, "card", clock.now())
            member = await Member.select(
                Member.member_no, Member.tier, Member.premium_until, Member.created_at,
                Member.home_prefecture, Member.account.display_name, Member.account.status,
            ).where(Member.id == claims.subject_id).first()
            if member is None or member["account.status"] != "active":
                raise TokenError("unknown")
            result = {"ok": True, "member": member, "tier": membership.effective_tier(member, clock.now().date())}
        except TokenError as exc:
            result = {"ok": False, "reason": str(REFUSALS[exc.reason])}
    return page(request, "card/verify.html", {"result": result, "code": code[:300]}, cache="no-store")


handlers = [get_card, verify_card]
