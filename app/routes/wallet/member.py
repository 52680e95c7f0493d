"""The entry pass for members and visitors: passes and shops (public), activation, the wallet."""

from __future__ import annotations

from datetime import date

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.status_codes import HTTP_204_NO_CONTENT

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.page_cache import MEMBER_PAGE, PUBLIC_PAGE
from app.qr import signed_code_qr_svg
from app.rendering import page, see_other, wants_fragment
from app.routes.forms import form_dict
from app.services.campaigns import campaigns
from app.services.membership import membership
from app.services.shared import clock
from app.services.wallet import wallet
from app.services.wallet.wallet import ActivationRefused, Region, category_label
from app.sessions import noted_campaign

ACTIVATION_MESSAGES = {
    "unknown_pass": _l("This pass is not available."),
    "not_eligible": _l("This pass is for visitors who live outside the region. Check the prefecture and municipality in your profile."),
    "stay_missing": _l("Enter the dates of your stay."),
    "stay_order": _l("The last day must be on or after the first day."),
    "stay_past": _l("Your stay has already ended. Enter the dates of your next stay."),
    "stay_too_long": _l("A stay can be at most one year."),
    "premium_only": _l("This pass is for premium members. It can be activated on a day your premium holds."),
    "already_active": _l("This pass is already in your wallet."),
    "try_again": _l("Something went wrong. Please try again."),
}


async def passes_context(request: Request, errors: dict | None = None, values: dict | None = None) -> dict:
    """The open passes, and for a member which are in the wallet and whether premium holds today, so a
    premium-only pass shows a basic member why it cannot be activated instead of a button that fails."""
    context = {
        "passes": await wallet.open_passes(), "active_ids": set(), "premium": False, "category_label": category_label,
        "errors": errors or {}, "values": values or {}, "premium_only_reason": ACTIVATION_MESSAGES["premium_only"],
    }
    account = current_account(request)
    if account is not None and account.is_member:
        member = await membership.member_for_account(account.id)
        context["active_ids"] = {w["entry_pass"] for w in await wallet.wallet(member["id"], clock.now())}
        context["premium"] = membership.effective_tier(member, clock.today_in_japan()) == "premium"
    return context


@get("/passes", name="list_passes", cache_control=None, opt=PUBLIC_PAGE)
async def list_passes(request: Request) -> object:
    return page(request, "wallet/passes.html", await passes_context(request))


@get("/shops", name="list_shops", cache_control=None, opt=PUBLIC_PAGE)
async def list_shops(request: Request, category: FromQuery[str] = "") -> object:
    shops = await wallet.shops(category)
    context = {"shops": shops, "category": category, "categories": [(c, category_label(c)) for c in wallet.SHOP_CATEGORIES],
               "category_label": category_label}
    return page(request, "wallet/shops.html", context, fragment="wallet/_shop_rows.html")


def _date(value) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


@post("/passes/{pass_id:int}/activate", name="activate_pass", guards=[guards.member])
async def activate_pass(request: Request, pass_id: FromPath[int]) -> object:
    settings = request.app.state.settings
    account = current_account(request)
    member = await membership.member_for_account(account.id)
    form = await form_dict(request)
    stay_from, stay_to = _date(form.get("stay_from")), _date(form.get("stay_to"))
    errors: dict[str, str] = {}
    for name in ("stay_from", "stay_to"):
        if form.get(name) and _date(form.get(name)) is None:
            errors[name] = _("Enter a date such as 2026-08-01.")
    if not errors:
        try:
            await wallet.activate(
                member["id"], pass_id, Region(settings.region_prefecture_code, settings.region_municipality),
                clock.now(), stay_from, stay_to,
                await campaigns.campaign_to_record(member["id"], noted_campaign(request.session)),
            )
        except ActivationRefused as refused:
            errors[refused.field or "pass"] = str(ACTIVATION_MESSAGES[refused.reason])
    if errors:
        context = await passes_context(
            request, {pass_id: errors}, {pass_id: {"stay_from": form.get("stay_from", ""), "stay_to": form.get("stay_to", "")}},
        )
        if not any(p["id"] == pass_id for p in context["passes"]):
            raise NotFoundException()
        return page(request, "wallet/passes.html", context, status_code=422, cache="no-store")
    request.session["flash"] = _("The pass is in your wallet. Show its QR code at the shops.")
    return see_other(request, request.app.route_reverse("get_wallet"))


@get("/wallet", name="get_wallet", guards=[guards.member], cache_control=None, opt=MEMBER_PAGE)
async def get_wallet(request: Request) -> object:
    account = current_account(request)
    now = clock.now()
    # Taken before the uses are read: a use landing in between is then drawn again at the next poll, not missed.
    version = await wallet.uses_version(account.id, now)
    member = await membership.member_for_account(account.id)
    passes = await wallet.wallet(member["id"], now)
    sign = request.app.state.signer
    for item in passes:
        token = sign.sign("wallet", item["id"], item["expires_at"]) if item["live"] else ""
        item["token"] = token
        item["qr"] = signed_code_qr_svg(token, _("Entry pass QR code")) if token else None
    context = {
        **await uses_context(member, passes, version),
        "updated_at": now,
        "account": account,
        "category_label": category_label,
    }
    # Kept by the service worker for the shop counter with one bar of signal. The history alone answers a tab
    # opened before get_wallet_uses existed, whose poller still asks here.
    return page(request, "wallet/wallet.html", context, fragment="wallet/_history.html")


async def uses_context(member: dict, passes: list[dict], version: str) -> dict:
    """What the offers, the history and the poller need, on the page and in the poll's answer alike."""
    return {
        "passes": passes,
        "history": await wallet.history(member["id"]),
        "version": version,
        # A premium-only offer shows a member whose premium does not hold today why, not uses left
        "premium": membership.effective_tier(member, clock.today_in_japan()) == "premium",
    }


@get("/wallet/uses", name="get_wallet_uses", guards=[guards.member], cache_control=None)
async def get_wallet_uses(request: Request, v: FromQuery[str] = "") -> object:
    """Polled by the open wallet with the version it shows: nothing (204) until a use or an undo changes it, so
    the usual answer costs one small query and no rendering; then the offers and history to swap in place."""
    if not wants_fragment(request):
        return see_other(request, request.app.route_reverse("get_wallet"))
    account = current_account(request)
    now = clock.now()
    version = await wallet.uses_version(account.id, now)
    if v == version:
        return Response(b"", status_code=HTTP_204_NO_CONTENT, headers={"Cache-Control": "no-store"})
    member = await membership.member_for_account(account.id)
    context = await uses_context(member, await wallet.wallet(member["id"], now), version)
    return page(request, "wallet/_uses.html", context, cache="no-store")


handlers = [list_passes, list_shops, activate_pass, get_wallet, get_wallet_uses]
