"""The secretariat's list of areas: create and edit the towns and districts programs belong to."""

from __future__ import annotations

from dataclasses import asdict

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from app import guards
from app.i18n import gettext as _
from app.rendering import page, see_other
from app.routes.forms import form_dict
from app.services.programs import areas, budgets
from app.services.programs.activities import fiscal_year_of
from app.services.programs.areas import AreaInvalid, AreaValues
from app.services.shared import clock


def form_page(request: Request, values: AreaValues, errors: dict, area_id: int | None, status: int = 200) -> object:
    context = {"values": asdict(values), "errors": errors, "area_id": area_id}
    return page(request, "programs/areas/form.html", context, status_code=status, cache="no-store")


@get("/staff/areas", name="list_areas", guards=[guards.staff], cache_control=None)
async def list_areas(request: Request) -> object:
    this_year = await budgets.area_budgets(fiscal_year_of(clock.now()))
    return page(request, "programs/areas/list.html", {
        "areas": await areas.list_areas(), "budgets": {b.area_id: b for b in this_year}}, cache="no-store")


@get("/staff/areas/new", name="new_area", guards=[guards.staff], cache_control=None)
async def new_area(request: Request) -> object:
    return form_page(request, AreaValues(), {}, None)


@get("/staff/areas/{area_id:int}", name="edit_area", guards=[guards.staff], cache_control=None)
async def edit_area(request: Request, area_id: FromPath[int]) -> object:
    values = await areas.area_values(area_id)
    if values is None:
        raise NotFoundException()
    return form_page(request, values, {}, area_id)


async def _save(request: Request, area_id: int | None) -> object:
    try:
        values = areas.validate_area(await form_dict(request))
        await areas.save_area(values, area_id)
    except AreaInvalid as invalid:
        return form_page(request, invalid.values, invalid.errors, area_id, status=422)
    except LookupError:
        raise NotFoundException() from None
    request.session["flash"] = _("The area was saved.")
    return see_other(request, request.app.route_reverse("list_areas"))


@post("/staff/areas", name="create_area", guards=[guards.staff])
async def create_area(request: Request) -> object:
    return await _save(request, None)


@post("/staff/areas/{area_id:int}", name="update_area", guards=[guards.staff])
async def update_area(request: Request, area_id: FromPath[int]) -> object:
    return await _save(request, area_id)


handlers = [list_areas, new_area, edit_area, create_area, update_area]
