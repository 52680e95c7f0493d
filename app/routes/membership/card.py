"""The digital member card (会員証) and checking one at a counter, a venue or the desk."""

from __future__ import annotations

from litestar import Request, get
from litestar.params import FromQuery

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.i18n import to_tokyo
from app.page_cache import MEMBER_PAGE
from app.qr import signed_code_qr_svg
from app.rendering import page
from app.services.activities import progress
from app.services.membership import member_card, membership
from app.services.shared import clock
from app.services.shared.signed_tokens import TokenError


@get("/card", name="get_card", guards=[guards.member], cache_control=None, opt=MEMBER_PAGE)
async def get_card(request: Request) -> object:
    account = current_account(request)
    member = await membership.member_for_account(account.id)
    now = clock.now()
    token = request.app.state.signer.sign("card", member["id"], member_card.card_expiry(now))
    context = {
        "account": account,
        "member": member,
        "tier": membership.effective_tier(member, to_tokyo(now).date()),
        "areas": await membership.followed_areas(member["id"]),
        "progress": await progress.progress(member["id"], now),
        "qr": signed_code_qr_svg(token, _("Member card QR code")),
        "token": token,
        "issued_at": now,
    }
    # no-cache (not no-store): the service worker keeps the card for offline use until logout.
    return page(request, "membership/card/card.html", context)


@get("/cards/verify", name="verify_card", guards=[guards.card_checker], cache_control=None)
async def verify_card(request: Request, code: FromQuery[str] = "") -> object:
    result = None
    if code:
        try:
            member = await member_card.card_holder(request.app.state.signer, code, clock.now())
            result = {"ok": True, "member": member, "tier": membership.effective_tier(member, to_tokyo(clock.now()).date())}
        except TokenError as exc:
            result = {"ok": False, "reason": str(member_card.CARD_REFUSALS[exc.reason])}
    return page(request, "membership/card/verify.html", {"result": result, "code": code[:300]}, cache="no-store")


handlers = [get_card, verify_card]
