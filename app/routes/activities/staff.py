"""For the secretariat: the members with enough local activities this fiscal year for the premium tier."""

from __future__ import annotations

from typing import Annotated

from litestar import Request, get
from litestar.params import QueryParameter

from app import guards
from app.routes.activities.editor import no_store
from app.routes.forms import fiscal_year
from app.services.activities import progress
from app.services.activities.progress import PREMIUM_ACTIVITIES
from app.services.programs.activities import fiscal_year_of
from app.services.shared import clock

FiscalYear = Annotated[str, QueryParameter(name="year")]


@get("/staff/activities", name="list_active_members", guards=[guards.staff], cache_control=None)
async def list_active_members(request: Request, year: FiscalYear = "") -> object:
    current = fiscal_year_of(clock.now())
    chosen, errors = fiscal_year(year, current)
    members = await progress.active_members(chosen)
    context = {"members": members, "year": chosen, "years": list(range(current, current - 5, -1)), "errors": errors,
               "minimum": PREMIUM_ACTIVITIES}
    return no_store(request, "activities/staff/members.html", context, 422 if errors else 200)


handlers = [list_active_members]
