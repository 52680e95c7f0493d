"""The secretariat's list of counter conflicts: uses a counter allowed while offline that the server could not
count (app/services/wallet/conflicts.py says why they happen), each marked reviewed once settled."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.params import FromPath, QueryParameter

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.rendering import page, see_other
from app.routes.forms import page_number
from app.routes.wallet.shop import headline, reason_text
from app.services.shared import clock
from app.services.wallet import conflicts

CONFLICTS_PAGE = 50
STATE_TABS = (("open", _l("To review")), ("reviewed", _l("Reviewed")))


@get("/staff/wallet/conflicts", name="list_counter_conflicts", guards=[guards.staff], cache_control=None)
async def list_counter_conflicts(request: Request, shown: Annotated[str, QueryParameter(name="state")] = "open",
                                 page_no: Annotated[str, QueryParameter(name="page")] = "1") -> object:
    state = shown if shown in conflicts.STATES else "open"
    number = page_number(page_no)
    # One row more than a page tells whether there is a next one.
    found = await conflicts.conflicts(state, CONFLICTS_PAGE + 1, offset=(number - 1) * CONFLICTS_PAGE)

    def list_url(**changes) -> str:
        query = {"state": state, "page": number, **changes}
        return request.app.route_reverse("list_counter_conflicts") + "?" + urlencode(
            {k: v for k, v in query.items() if v not in ("open", 1, "1")})

    context = {
        "conflicts": found[:CONFLICTS_PAGE], "state": state, "page": number, "has_next": len(found) > CONFLICTS_PAGE,
        "state_tabs": STATE_TABS, "open_count": await conflicts.open_count(), "list_url": list_url,
        "page_url": lambda n: list_url(page=n), "headline": headline, "reason_text": reason_text,
    }
    return page(request, "wallet/staff/conflicts.html", context, cache="no-store")


@post("/staff/wallet/conflicts/{conflict_id:int}/review", name="review_counter_conflict", guards=[guards.staff])
async def review_counter_conflict(request: Request, conflict_id: FromPath[int]) -> object:
    done = await conflicts.review(conflict_id, current_account(request).id, clock.now())
    request.session["flash"] = _("Marked as reviewed.") if done else _("This conflict was already reviewed.")
    return see_other(request, request.app.route_reverse("list_counter_conflicts"))


handlers = [list_counter_conflicts, review_counter_conflict]
