"""The secretariat's list of redemptions one by one (the analysis counts them; this finds one: a member at the
desk saying an offer was used, a shop asking about a scan). The shop counter keeps its own list of today's."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from litestar import Request, get
from litestar.params import FromQuery, QueryParameter

from app import guards
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.rendering import page
from app.routes.forms import page_number
from app.services.shared import clock
from app.services.shared.refusals import FormInvalid
from app.services.wallet import analysis as wallet_analysis
from app.services.wallet import shops as shop_admin
from app.services.wallet.wallet import tokyo_today

REDEMPTIONS_PAGE = 50
ORDERS = {"newest": _l("Newest first"), "oldest": _l("Oldest first")}
DEFAULTS = {"shop": None, "order": "newest", "page": 1}  # left out of the list's addresses


@get("/staff/wallet/redemptions", name="list_redemptions", guards=[guards.staff], cache_control=None)
async def list_redemptions(request: Request, start: Annotated[str, QueryParameter(name="from")] = "",
                           end: Annotated[str, QueryParameter(name="to")] = "", shop: FromQuery[str] = "",
                           order: FromQuery[str] = "newest",
                           page_no: Annotated[str, QueryParameter(name="page")] = "1") -> object:
    """The period typed (this fiscal year when left empty), one shop or all, newest or oldest first, 50 a page."""
    shops = await shop_admin.list_shops()
    shop_id = next((s["id"] for s in shops if str(s["id"]) == shop), None)
    order = order if order in ORDERS else "newest"
    number = page_number(page_no)
    try:
        period = wallet_analysis.parse_period(start, end, tokyo_today(clock.now()))
    except FormInvalid as invalid:
        period, values, errors = None, invalid.values, invalid.errors
    else:
        values, errors = {"from": period.start.isoformat(), "to": period.end.isoformat()}, {}
    # One row more than a page tells whether there is a next one.
    rows = await wallet_analysis.redemptions(period, shop_id, order == "newest", REDEMPTIONS_PAGE + 1,
                                             (number - 1) * REDEMPTIONS_PAGE) if period else []

    def list_url(**changes) -> str:
        query = {**values, "shop": shop_id, "order": order, "page": number, **changes}
        kept = {key: value for key, value in query.items() if value != DEFAULTS.get(key, "")}
        return request.app.route_reverse("list_redemptions") + ("?" + urlencode(kept) if kept else "")

    context = {
        "rows": rows[:REDEMPTIONS_PAGE], "has_next": len(rows) > REDEMPTIONS_PAGE, "page": number, "period": period,
        "values": values, "errors": errors, "shop_id": shop_id, "order": order,
        "shops": [(s["id"], s["name"] if s["active"] else _("%(name)s (inactive)", name=s["name"])) for s in shops],
        "orders": [(code, str(label)) for code, label in ORDERS.items()],
        "list_url": list_url, "page_url": lambda n: list_url(page=n),
    }
    return page(request, "wallet/staff/redemptions.html", context, status_code=422 if errors else 200, cache="no-store")


handlers = [list_redemptions]
