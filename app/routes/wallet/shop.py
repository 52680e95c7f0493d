"""The shop counter: scan a wallet, see what can be used here now, tap it, see OK or why not; and the bundle a
counter keeps to decide by itself (app/services/wallet/counter_bundle.py)."""

from __future__ import annotations

import secrets

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Response

from app import guards
from app.auth import current_account
from app.i18n import format_datetime
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.page_cache import LEAVES_PUBLIC_PAGES
from app.rate_limit import scan_rate_limit
from app.rendering import page, see_other, wants_fragment
from app.routes import queued
from app.routes.forms import form_dict
from app.services.shared import clock
from app.services.wallet import conflicts, counter_bundle, offers, redemption, shops
from app.services.wallet.redemption import Refused

REASONS = {
    "damaged": _l("The code could not be read. Scan again or type the code under the QR."),
    "forged": _l("This code was not issued by us. Do not give the offer."),
    "wrong_kind": _l("This is not an entry pass code. Ask for the wallet screen."),
    "expired": _l("This pass has expired."),
    "unknown": _l("No pass has this code."),
    "revoked": _l("This pass has been canceled by the secretariat."),
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


# What the counter's screen says first, in large type, for each refusal: what happened, in the words a clerk
# repeats to the visitor. "Not valid" (無効です) only for a code that is not ours. The one place for them: the
# pages, and the counter bundle for the device's own decisions, read them here.
HEADLINES = {
    "damaged": _l("Unreadable code"),
    "forged": _l("Not valid"),
    "wrong_kind": _l("Not an entry pass code"),
    "unknown": _l("Code not found"),
    "expired": _l("Expired"),
    "revoked": _l("Pass stopped"),
    "suspended": _l("Pass stopped"),
    "before_stay": _l("Outside the stay"),
    "after_stay": _l("Outside the stay"),
    "wrong_shop": _l("Not usable at this shop"),
    "not_in_pass": _l("Not in this pass"),
    "offer_unavailable": _l("Not available today"),
    "already_used": _l("Already used"),
    "already_used_today": _l("Already used"),
    "premium_only": _l("Premium members only"),
}
SHORT_CODE_MAX = 16  # a longer text is a token (redemption.read_code tells them apart the same way)


def reason_text(code: str) -> str:
    return str(REASONS.get(code, REASONS["damaged"]))


def headline(code: str) -> str:
    return str(HEADLINES.get(code, HEADLINES["damaged"]))


def used_when(refused: Refused) -> str:
    """For an offer already used: when and where, in the clerk's words ("" when the service did not say)."""
    at, shop = refused.details.get("at"), refused.details.get("shop")
    if at is None:
        return ""
    return _("Used %(when)s at %(shop)s.", when=format_datetime(at, "short"), shop=shop or "—")


def typed_code(code: str) -> str:
    """What the manual box may show again: a short code as typed, never a scanned token."""
    text = code.strip()
    return text if len(text) <= SHORT_CODE_MAX else ""


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
    now = clock.now()
    context.update(
        code=code[:300], typed=typed_code(code[:300]), preview=None, refusal="", refusal_code="",
        nonce=secrets.token_urlsafe(16), reason_text=reason_text, headline=headline,
    )
    if not wants_fragment(request):  # each scan asks for the answer alone: the page around it only once
        context.update(
            offers=await offers.shop_offers(context["shop"]["id"]),
            today=await redemption.shop_day(context["shop"]["id"], now), now=now, undo_window=redemption.UNDO_WINDOW,
        )
    if code:
        try:
            context["preview"] = await redemption.preview(request.app.state.signer, code, context["shop"]["id"], now)
        except Refused as refused:
            context.update(refusal=reason_text(refused.reason), refusal_code=refused.reason)
    # The bare scanner is kept by the service worker (no-cache, not no-store), so the counter opens with no
    # network; an answer about one pass is never kept.
    return page(request, "wallet/shop/scan.html", context, fragment="wallet/shop/_scan_result.html",
                cache="no-store" if code else "no-cache")


@post("/shop/redeem", name="redeem_offer", guards=[guards.shop_staff, scan_rate_limit], opt=LEAVES_PUBLIC_PAGES)
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
        context.update(ok=False, reason=reason_text(refused.reason), reason_code=refused.reason,
                       headline=headline, reason_text=reason_text, code=code, used=used_when(refused))
        status = 409
    response = page(request, "wallet/shop/result.html", context, fragment="wallet/shop/_result.html", status_code=status, cache="no-store")
    if status == 200:
        response.headers["HX-Trigger"] = "redeemed"  # the day's list on every open scanner of this tablet
    return response


@post("/shop/redemptions/{redemption_id:int}/undo", name="undo_redemption", guards=[guards.shop_staff],
      opt=LEAVES_PUBLIC_PAGES)
async def undo_redemption(request: Request, redemption_id: FromPath[int]) -> object:
    account = current_account(request)
    done = await redemption.undo(redemption_id, account.shop_id, account.id, clock.now())
    message = str(_l("The use was taken back.") if done else _l("It can no longer be taken back (more than five minutes, or already undone)."))
    form = await form_dict(request)
    if str(form.get("from", "")) == "scanner" and request.headers.get("HX-Request") == "true":
        # From the scanner's result screen: the answer takes the result's place, the camera stays on.
        response = page(request, "wallet/shop/undone.html", {"undone": done, "message": message},
                        fragment="wallet/shop/_undone.html", status_code=200 if done else 409, cache="no-store")
        if done:
            response.headers["HX-Trigger"] = "redeemed"
        return response
    request.session["flash"] = message
    return see_other(request, request.app.route_reverse("shop_home"))


@get("/shop/counter-bundle", name="get_counter_bundle", guards=[guards.shop_staff], cache_control=None)
async def get_counter_bundle(request: Request) -> Response:
    """What this shop's counter keeps to decide a scan by itself: JSON, never stored by a cache."""
    account = current_account(request)
    bundle = await counter_bundle.counter_bundle(request.app.state.signer, account.shop_id, clock.now())
    if bundle is None:
        return Response({"detail": str(_l("This shop account has no shop."))}, status_code=404,
                        headers={"Cache-Control": "no-store"})
    bundle["messages"] = {code: {"headline": headline(code), "detail": reason_text(code)} for code in REASONS}
    return Response(bundle, headers={"Cache-Control": "no-store"})


@post("/shop/counter/uses", name="send_counter_use", guards=[guards.shop_staff, scan_rate_limit], status_code=200,
      opt=LEAVES_PUBLIC_PAGES)
async def send_counter_use(request: Request) -> Response:
    """A use the counter allowed offline: {code, offer, nonce, scanned_at, account}, sent by the counter's queue
    (offline_queue.js) from the page or the service worker. Answers {status: recorded | already | conflict}
    for the counter to drop; a use scanned while another shop account was logged in on the tablet waits (409)."""
    account = current_account(request)
    data = await queued.json_body(request)
    if not isinstance(data, dict):
        return queued.refused("bad_json", str(queued.BAD_JSON), 400)
    code, nonce, offer = data.get("code"), data.get("nonce"), data.get("offer")
    scanned_at = queued.scanned_at_from(data.get("scanned_at"))
    if not isinstance(code, str) or not isinstance(nonce, str) or type(offer) is not int or scanned_at is None:
        return queued.refused("bad_json", str(queued.BAD_JSON), 422)
    if data.get("account", account.id) != account.id:
        return queued.refused("other_account", str(_l("This use was scanned by another shop account.")), 409)
    try:
        arrived = await conflicts.arrive(request.app.state.signer, code[:300], offer, account.shop_id, account.id,
                                         nonce, scanned_at, clock.now())
    except Refused as refused:
        return queued.refused(refused.reason, reason_text(refused.reason), 422)
    body = {"status": arrived.status, "reason": arrived.reason}
    if arrived.redeemed:
        body.update(title=arrived.redeemed.offer_title, display_name=arrived.redeemed.display_name)
    else:
        body.update(headline=headline(arrived.reason), detail=reason_text(arrived.reason))
    return queued.answer(body)


handlers = [shop_home, scan_wallet, redeem_offer, undo_redemption, get_counter_bundle, send_counter_use]
