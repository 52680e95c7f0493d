"""The shop counter: scan a wallet, see what can be used here now, tap it, see OK or why not."""

from __future__ import annotations

import secrets

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery

from app import guards
from app.auth import current_account
from app.i18n import lazy_gettext as _l
from app.rate_limit import scan_rate_limit
from app.rendering import page, see_other
from app.routes.forms import form_dict
from app.services.shared import clock
from app.services.wallet import redemption, shops
from app.services.wallet.redemption import Refused

REASONS = {
    "damaged": _l("The code could not be read. Scan again or type the code under the QR."),
    "forged": _l("This code was not issued by us. Do not give the offer."),
    "wrong_kind": _l("This is not an entry pass code. Ask for the wallet screen."),
    "expired": _l("This pass has expired."),
    "unknown": _l("No pass has this code."),
    "revoked": _l("This pass has been cancelled by the secretariat."),
    "suspended": _l("This pass is suspended. The member can ask the secretariat."),
    "before_stay": _l("The member's stay has not started yet."),
    "after_stay": _l("The member's stay has ended."),
    "wrong_shop": _l("This offer is not for this shop."),
    "not_in_pass": _l("This offer is not part of the member's pass."),
    "offer_unavailable": _l("This offer is not available today."),
    "already_used": _l("Already used."),
    "already_used_today": _l("Already used today."),
    "premium_only": _l("This offer is for premium members only."),
}


def reason_text(code: str) -> str:
    return str(REASONS.get(code, REASONS["damaged"]))


async def shop_context(request: Request) -> dict:
    account = current_account(request)
    shop = await shops.get_shop(account.shop_id)
    return {"shop": shop, "account": account}


@get("/shop", name="shop_home", guards=[guards.shop_staff], cache_control=None)
async def shop_home(request: Request) -> object:
    context = await shop_context(request)
    now = clock.now()
    context.update(
        today=await redemption.shop_day(context["shop"]["id"], now),
        month_count=await redemption.shop_month_count(context["shop"]["id"], now),
        now=now,
        undo_window=redemption.UNDO_WINDOW,
    )
    return page(request, "wallet/shop/home.html", context, fragment="wallet/shop/_today.html", cache="no-store")


@get("/shop/scan", name="scan_wallet", guards=[guards.shop_staff, scan_rate_limit], cache_control=None)
async def scan_wallet(request: Request, code: FromQuery[str] = "") -> object:
    context = await shop_context(request)
    context.update(code=code[:300], preview=None, refusal="", nonce=secrets.token_urlsafe(16), reason_text=reason_text)
    if code:
        try:
            context["preview"] = await redemption.preview(request.app.state.signer, code, context["shop"]["id"], clock.now())
        except Refused as refused:
            context["refusal"] = reason_text(refused.reason)
    return page(request, "wallet/shop/scan.html", context, fragment="wallet/shop/_scan_result.html", cache="no-store")


@post("/shop/redeem", name="redeem_offer", guards=[guards.shop_staff, scan_rate_limit])
async def redeem_offer(request: Request) -> object:
    # The answer names no shop, so the shop's row is not read: the account says which shop scans.
    account = current_account(request)
    context: dict = {"account": account}
    form = await form_dict(request)
    code, nonce = str(form.get("code", ""))[:300], str(form.get("nonce", ""))
    try:
        offer_id = int(str(form.get("offer", "")))
    except ValueError:
        offer_id = -1
    try:
        result = await redemption.redeem(request.app.state.signer, code, offer_id, account.shop_id, account.id, nonce, clock.now())
        context.update(ok=True, result=result, undo_window=redemption.UNDO_WINDOW)
        status = 200
    except Refused as refused:
        context.update(ok=False, reason=reason_text(refused.reason), reason_code=refused.reason, code=code)
        status = 409
    return page(request, "wallet/shop/result.html", context, fragment="wallet/shop/_result.html", status_code=status, cache="no-store")


@post("/shop/redemptions/{redemption_id:int}/undo", name="undo_redemption", guards=[guards.shop_staff])
async def undo_redemption(request: Request, redemption_id: FromPath[int]) -> object:
    account = current_account(request)
    done = await redemption.undo(redemption_id, account.shop_id, account.id, clock.now())
    request.session["flash"] = str(_l("The use was taken back.") if done else _l("It can no longer be taken back (more than five minutes, or already undone)."))
    return see_other(request, request.app.route_reverse("shop_home"))


handlers = [shop_home, scan_wallet, redeem_offer, undo_redemption]
