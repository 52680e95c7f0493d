"""The secretariat's home: where each part of the work starts, with what waits for them; and the console's search."""

from __future__ import annotations

from litestar import Request, get
from litestar.params import FromQuery

from app import guards
from app.auth import current_account
from app.rendering import page
from app.routes.console.nav import ATTENTION, menu_groups
from app.services.console import search
from app.services.membership import membership
from app.services.secretariat import incidents


@get("/staff", name="staff_home", guards=[guards.staff], cache_control=None)
async def staff_home(request: Request) -> object:
    counts = request.scope["state"].get(ATTENTION, {})
    context = {
        "members": await membership.member_count(),
        "counts": counts,
        # The open incidents by name: trouble is what the secretariat must not lose sight of.
        "open_incidents": await incidents.incidents("open", 5) if counts.get("incidents") else [],
        "groups": menu_groups(request.app, "staff", request.url.path, counts, request.query_params),
    }
    return page(request, "console/index.html", context, cache="no-store")


@get("/staff/search", name="search_console", guards=[guards.staff], cache_control=None)
async def search_console(request: Request, q: FromQuery[str] = "") -> object:
    found = await search.find(q, current_account(request).id)
    return page(request, "console/search.html", {"found": found, "q": found.term}, cache="no-store")


handlers = [staff_home, search_console]
