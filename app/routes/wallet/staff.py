"""The secretariat's pages for the entry pass: shops, offers, passes, members' passes, and usage analysis."""

from __future__ import annotations

from typing import Annotated

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, QueryParameter

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.rendering import csv_download, page, see_other
from app.routes.forms import form_dict
from app.services.programs import areas
from app.services.shared import clock
from app.services.shared.reference import prefecture_name
from app.services.shared.refusals import FormInvalid
from app.services.wallet import analysis as wallet_analysis
from app.services.wallet import member_passes as member_pass_admin
from app.services.wallet import offers as offer_admin
from app.services.wallet import passes as pass_admin
from app.services.wallet import shops as shop_admin
from app.services.wallet.member_passes import status_label
from app.services.wallet.offers import LIMIT_KINDS, OfferValues, limit_label
from app.services.wallet.passes import PassValues
from app.services.wallet.shops import ShopValues
from app.services.wallet.wallet import SHOP_CATEGORIES, category_label, tokyo_today

STAFF = [guards.staff]
# The analysis period arrives as ?from=YYYY-MM-DD&to=YYYY-MM-DD (Tokyo dates, both included).
PeriodFrom = Annotated[str, QueryParameter(name="from")]
PeriodTo = Annotated[str, QueryParameter(name="to")]


def _url(request: Request, name: str, **params) -> str:
    return request.app.route_reverse(name, **params)


# Shops --------------------------------------------------------------------------------------------


async def shop_form_context(values: ShopValues, errors: dict[str, str], shop: dict | None = None, offers=()) -> dict:
    return {
        "values": values,
        "errors": errors,
        "shop": shop,
        "offers": list(offers),
        "categories": [(code, category_label(code)) for code in SHOP_CATEGORIES],
        "area_options": [(area["id"], area["name"]) for area in await areas.choices()],
        "limit_label": limit_label,
    }


@get("/staff/shops", name="list_staff_shops", guards=STAFF, cache_control=None)
async def list_staff_shops(request: Request) -> object:
    shops = await shop_admin.list_shops()
    return page(request, "wallet/staff/shops.html", {"shops": shops, "category_label": category_label}, cache="no-store")


@get("/staff/shops/new", name="new_shop", guards=STAFF, cache_control=None)
async def new_shop(request: Request) -> object:
    return page(request, "wallet/staff/shop.html", await shop_form_context(ShopValues(), {}), cache="no-store")


@post("/staff/shops", name="create_shop", guards=STAFF)
async def create_shop(request: Request) -> object:
    try:
        values = await shop_admin.read_shop(await form_dict(request))
    except FormInvalid as invalid:
        return page(request, "wallet/staff/shop.html", await shop_form_context(invalid.values, invalid.errors),
                    fragment="wallet/staff/_shop_form.html", status_code=422, cache="no-store")
    shop_id = await shop_admin.create_shop(values)
    request.session["flash"] = _("The shop was added. Add its offers next.")
    return see_other(request, _url(request, "edit_shop", shop_id=shop_id))


async def _shop_or_404(shop_id: int) -> dict:
    shop = await shop_admin.get_shop(shop_id)
    if shop is None:
        raise NotFoundException()
    return shop


@get("/staff/shops/{shop_id:int}", name="edit_shop", guards=STAFF, cache_control=None)
async def edit_shop(request: Request, shop_id: FromPath[int]) -> object:
    shop = await _shop_or_404(shop_id)
    context = await shop_form_context(shop_admin.shop_values(shop), {}, shop, await offer_admin.shop_offers(shop_id))
    return page(request, "wallet/staff/shop.html", context, cache="no-store")


@post("/staff/shops/{shop_id:int}", name="update_shop", guards=STAFF)
async def update_shop(request: Request, shop_id: FromPath[int]) -> object:
    shop = await _shop_or_404(shop_id)
    try:
        values = await shop_admin.read_shop(await form_dict(request))
    except FormInvalid as invalid:
        context = await shop_form_context(invalid.values, invalid.errors, shop, await offer_admin.shop_offers(shop_id))
        return page(request, "wallet/staff/shop.html", context, fragment="wallet/staff/_shop_form.html",
                    status_code=422, cache="no-store")
    await shop_admin.update_shop(shop_id, values)
    request.session["flash"] = _("The shop was saved.")
    return see_other(request, _url(request, "edit_shop", shop_id=shop_id))


# Offers -------------------------------------------------------------------------------------------


def offer_form_context(shop: dict, values: OfferValues, errors: dict[str, str], offer: dict | None = None) -> dict:
    return {
        "shop": shop,
        "offer": offer,
        "values": values,
        "errors": errors,
        "limit_kinds": [(kind, str(offer_admin.LIMIT_KIND_LABELS[kind])) for kind in LIMIT_KINDS],
    }


@get("/staff/shops/{shop_id:int}/offers/new", name="new_offer", guards=STAFF, cache_control=None)
async def new_offer(request: Request, shop_id: FromPath[int]) -> object:
    shop = await _shop_or_404(shop_id)
    return page(request, "wallet/staff/offer.html", offer_form_context(shop, OfferValues(), {}), cache="no-store")


@post("/staff/shops/{shop_id:int}/offers", name="create_offer", guards=STAFF)
async def create_offer(request: Request, shop_id: FromPath[int]) -> object:
    shop = await _shop_or_404(shop_id)
    try:
        values = offer_admin.parse_offer(await form_dict(request))
    except FormInvalid as invalid:
        return page(request, "wallet/staff/offer.html", offer_form_context(shop, invalid.values, invalid.errors),
                    fragment="wallet/staff/_offer_form.html", status_code=422, cache="no-store")
    await offer_admin.create_offer(shop_id, values)
    request.session["flash"] = _("The offer was added. Include it in a pass so members can use it.")
    return see_other(request, _url(request, "edit_shop", shop_id=shop_id))


async def _offer_and_shop_or_404(offer_id: int) -> tuple[dict, dict]:
    offer = await offer_admin.get_offer(offer_id)
    if offer is None:
        raise NotFoundException()
    return offer, await _shop_or_404(offer["shop"])


@get("/staff/offers/{offer_id:int}", name="edit_offer", guards=STAFF, cache_control=None)
async def edit_offer(request: Request, offer_id: FromPath[int]) -> object:
    offer, shop = await _offer_and_shop_or_404(offer_id)
    context = offer_form_context(shop, offer_admin.offer_values(offer), {}, offer)
    return page(request, "wallet/staff/offer.html", context, cache="no-store")


@post("/staff/offers/{offer_id:int}", name="update_offer", guards=STAFF)
async def update_offer(request: Request, offer_id: FromPath[int]) -> object:
    offer, shop = await _offer_and_shop_or_404(offer_id)
    try:
        values = offer_admin.parse_offer(await form_dict(request))
    except FormInvalid as invalid:
        return page(request, "wallet/staff/offer.html", offer_form_context(shop, invalid.values, invalid.errors, offer),
                    fragment="wallet/staff/_offer_form.html", status_code=422, cache="no-store")
    await offer_admin.update_offer(offer_id, values)
    request.session["flash"] = _("The offer was saved.")
    return see_other(request, _url(request, "edit_shop", shop_id=shop["id"]))


# Passes -------------------------------------------------------------------------------------------


async def pass_form_context(values: PassValues, errors: dict[str, str], entry_pass: dict | None = None) -> dict:
    return {
        "values": values,
        "errors": errors,
        "entry_pass": entry_pass,
        "groups": await pass_admin.offer_choices(),
        "category_label": category_label,
        "limit_label": limit_label,
    }


@get("/staff/passes", name="list_staff_passes", guards=STAFF, cache_control=None)
async def list_staff_passes(request: Request) -> object:
    return page(request, "wallet/staff/passes.html", {"passes": await pass_admin.list_passes()}, cache="no-store")


@get("/staff/passes/new", name="new_pass", guards=STAFF, cache_control=None)
async def new_pass(request: Request) -> object:
    return page(request, "wallet/staff/pass.html", await pass_form_context(PassValues(), {}), cache="no-store")


@post("/staff/passes", name="create_pass", guards=STAFF)
async def create_pass(request: Request) -> object:
    try:
        values = await pass_admin.parse_pass(await form_dict(request))
    except FormInvalid as invalid:
        return page(request, "wallet/staff/pass.html", await pass_form_context(invalid.values, invalid.errors),
                    fragment="wallet/staff/_pass_form.html", status_code=422, cache="no-store")
    await pass_admin.create_pass(values)
    request.session["flash"] = _("The pass was added.")
    return see_other(request, _url(request, "list_staff_passes"))


@get("/staff/passes/{pass_id:int}", name="edit_pass", guards=STAFF, cache_control=None)
async def edit_pass(request: Request, pass_id: FromPath[int]) -> object:
    values = await pass_admin.pass_values(pass_id)
    if values is None:
        raise NotFoundException()
    entry_pass = await pass_admin.get_pass(pass_id)
    return page(request, "wallet/staff/pass.html", await pass_form_context(values, {}, entry_pass), cache="no-store")


@post("/staff/passes/{pass_id:int}", name="update_pass", guards=STAFF)
async def update_pass(request: Request, pass_id: FromPath[int]) -> object:
    entry_pass = await pass_admin.get_pass(pass_id)
    if entry_pass is None:
        raise NotFoundException()
    try:
        values = await pass_admin.parse_pass(await form_dict(request))
    except FormInvalid as invalid:
        return page(request, "wallet/staff/pass.html", await pass_form_context(invalid.values, invalid.errors, entry_pass),
                    fragment="wallet/staff/_pass_form.html", status_code=422, cache="no-store")
    if not await pass_admin.update_pass(pass_id, values):
        raise NotFoundException()
    request.session["flash"] = _("The pass was saved.")
    return see_other(request, _url(request, "list_staff_passes"))


# Members' wallet passes ---------------------------------------------------------------------------


async def wallet_passes_context(member_text: str, errors: dict | None = None, values: dict | None = None) -> dict:
    member = await member_pass_admin.find_member(member_text)
    return {
        "q": member["member_no"] if member else member_text,
        "member": member,
        "prefecture": prefecture_name(member["home_prefecture"]) if member else "",
        "wallet_passes": await member_pass_admin.member_wallet_passes(member["id"]) if member else [],
        "errors": errors or {},
        "values": values or {},
        "status_label": status_label,
    }


@get("/staff/wallet-passes", name="list_wallet_passes", guards=STAFF, cache_control=None)
async def list_wallet_passes(request: Request, member: FromQuery[str] = "") -> object:
    term = member.strip()[:32]
    context = await wallet_passes_context(term)
    status_code = 200
    if term and context["member"] is None:
        # Shown on the page, next to the search field, so a mistyped number can be corrected there.
        context["errors"] = {"member": _("No member has this number. Check the number on the member card.")}
        status_code = 404
    return page(request, "wallet/staff/wallet_passes.html", context, status_code=status_code, cache="no-store")


@post("/staff/wallet-passes/{wallet_pass_id:int}/status", name="set_wallet_pass_status", guards=STAFF)
async def set_wallet_pass_status(request: Request, wallet_pass_id: FromPath[int]) -> object:
    wallet_pass = await member_pass_admin.get_wallet_pass(wallet_pass_id)
    if wallet_pass is None:
        raise NotFoundException()
    form = await form_dict(request)
    action = str(form.get("action", ""))
    try:
        status = await member_pass_admin.set_wallet_pass_status(
            current_account(request).id, wallet_pass_id, action, str(form.get("reason", "")), clock.now()
        )
    except FormInvalid as invalid:
        context = await wallet_passes_context(
            str(wallet_pass["member"]), {wallet_pass_id: invalid.errors}, {wallet_pass_id: invalid.values}
        )
        return page(request, "wallet/staff/wallet_passes.html", context, status_code=422, cache="no-store")
    request.session["flash"] = _("The pass is now %(status)s. Shops see this at the next scan.", status=status_label(status))
    return see_other(request, _url(request, "list_wallet_passes") + f"?member={wallet_pass['member']}")


# Analysis -----------------------------------------------------------------------------------------


def _period(start: str, end: str) -> tuple[wallet_analysis.Period | None, dict, dict]:
    try:
        period = wallet_analysis.parse_period(start, end, tokyo_today(clock.now()))
    except FormInvalid as invalid:
        return None, invalid.values, invalid.errors
    return period, {"from": period.start.isoformat(), "to": period.end.isoformat()}, {}


async def analysis_context(period, values: dict, errors: dict) -> dict:
    figures = await wallet_analysis.analyse(period) if period else None
    return {
        "period": period,
        "values": values,
        "errors": errors,
        "figures": figures,
        "tables": wallet_analysis.build_tables(figures) if figures else [],
    }


@get("/staff/wallet/analysis", name="get_wallet_analysis", guards=STAFF, cache_control=None)
async def get_wallet_analysis(request: Request, start: PeriodFrom = "", end: PeriodTo = "") -> object:
    period, values, errors = _period(start, end)
    return page(request, "wallet/staff/analysis.html", await analysis_context(period, values, errors),
                fragment="wallet/staff/_analysis.html", status_code=422 if errors else 200, cache="no-store")


@get("/staff/wallet/analysis/{table:str}/csv", name="export_wallet_analysis", guards=STAFF, cache_control=None)
async def export_wallet_analysis(
    request: Request, table: FromPath[str], start: PeriodFrom = "", end: PeriodTo = ""
) -> object:
    if table not in wallet_analysis.TABLE_KEYS:
        raise NotFoundException()
    period, values, errors = _period(start, end)
    if period is None:
        return page(request, "wallet/staff/analysis.html", await analysis_context(None, values, errors),
                    status_code=422, cache="no-store")
    filename, text = await wallet_analysis.export_csv(current_account(request).id, table, period, clock.now())
    return csv_download(filename, text)


handlers = [
    list_staff_shops, new_shop, create_shop, edit_shop, update_shop,
    new_offer, create_offer, edit_offer, update_offer,
    list_staff_passes, new_pass, create_pass, edit_pass, update_pass,
    list_wallet_passes, set_wallet_pass_status,
    get_wallet_analysis, export_wallet_analysis,
]
