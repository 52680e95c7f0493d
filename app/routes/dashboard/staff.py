"""The secretariat's KPI dashboard (figures against the year's targets, charts, CSV) and the targets form."""

from __future__ import annotations

from typing import Annotated

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.rendering import csv_download, page, see_other
from app.routes.forms import form_dict
from app.services.dashboard import display, figures, filters, kpi, tables, targets
from app.services.programs import areas
from app.services.shared import clock
from app.services.shared.refusals import FormInvalid

STAFF = [guards.staff]
# The filter arrives as ?year=2026&area=3 (an empty area: the whole region).
Year = Annotated[str, QueryParameter(name="year")]
AreaId = Annotated[str, QueryParameter(name="area")]


async def list_areas() -> list[dict]:
    return await areas.choices()


async def read_selection(year: str, area: str) -> tuple[filters.Selection | None, dict, dict]:
    """(selection, values to show in the filter, errors) from the query string."""
    areas = await list_areas()
    try:
        selection = filters.parse_selection(year, area, filters.current_fiscal_year(), {a["id"] for a in areas})
    except FormInvalid as invalid:
        return None, invalid.values, invalid.errors
    return selection, {"year": str(selection.fiscal_year), "area": str(selection.area_id or "")}, {}


async def filter_context(values: dict, errors: dict) -> dict:
    years = await filters.fiscal_years(filters.current_fiscal_year())
    return {
        "values": values,
        "errors": errors,
        "years": [(year, filters.fiscal_year_label(year)) for year in years],
        "areas": await list_areas(),
    }


async def dashboard_context(selection: filters.Selection | None, values: dict, errors: dict) -> dict:
    context = await filter_context(values, errors)
    if selection is None:
        return {**context, "figures": None}
    return {**context, **display.view(await kpi.dashboard(selection.fiscal_year, selection.area_id))}


@get("/staff/dashboard", name="get_dashboard", guards=STAFF, cache_control=None)
async def get_dashboard(request: Request, year: Year = "", area: AreaId = "") -> object:
    selection, values, errors = await read_selection(year, area)
    return page(request, "dashboard/index.html", await dashboard_context(selection, values, errors),
                fragment="dashboard/_dashboard.html", status_code=422 if errors else 200, cache="no-store")


@get("/staff/dashboard/{table:str}/csv", name="export_dashboard_table", guards=STAFF, cache_control=None)
async def export_dashboard_table(request: Request, table: FromPath[str], year: Year = "", area: AreaId = "") -> object:
    if table not in tables.TABLE_KEYS:
        raise NotFoundException()
    selection, values, errors = await read_selection(year, area)
    if selection is None:
        return page(request, "dashboard/index.html", await dashboard_context(None, values, errors),
                    status_code=422, cache="no-store")
    filename, text = await tables.export_csv(current_account(request).id, table, selection, clock.now())
    return csv_download(filename, text)


# Targets ----------------------------------------------------------------------------------------------


async def targets_context(fiscal_year: int, values: dict[str, str], errors: dict[str, str]) -> dict:
    """The form, with last year's actual figures beside each field as a reference."""
    areas = await list_areas()
    last_year = await kpi.dashboard(fiscal_year - 1, None)
    reference = {targets.target_field(m.key): m.actual for m in last_year.metrics}
    reference.update({targets.target_field("participants", a.area_id): a.participants for a in last_year.areas})
    fields = [(metric, targets.target_field(metric)) for metric, _area in targets.target_keys([]) if metric != "response_rate"]
    return {
        "fiscal_year": fiscal_year,
        "year_label": filters.fiscal_year_label(fiscal_year),
        "last_year_label": filters.fiscal_year_label(fiscal_year - 1),
        "years": [(year, filters.fiscal_year_label(year)) for year in await filters.fiscal_years(filters.current_fiscal_year())],
        "fields": [(name, figures.metric_label(metric)) for metric, name in fields],
        "area_fields": [(targets.target_field("participants", a["id"]), a["name"]) for a in areas],
        "rate_field": targets.target_field("response_rate"),
        "rate_label": figures.metric_label("response_rate"),
        "values": values,
        "errors": errors,
        "reference": reference,
    }


def _target_values(saved: dict[tuple[str, int], int], area_ids: list[int]) -> dict[str, str]:
    return {targets.target_field(metric, area): str(saved[(metric, area)]) if (metric, area) in saved else ""
            for metric, area in targets.target_keys(area_ids)}


@get("/staff/targets", name="get_targets", guards=STAFF, cache_control=None)
async def get_targets(request: Request, year: Year = "") -> object:
    fiscal_year = filters.parse_year(year) if year else filters.current_fiscal_year()
    if fiscal_year is None:
        request.session["flash"] = _("Choose a fiscal year from the list.")
        return see_other(request, request.app.route_reverse("get_targets"))
    area_ids = [a["id"] for a in await list_areas()]
    values = _target_values(await targets.targets(fiscal_year), area_ids)
    return page(request, "dashboard/targets.html", await targets_context(fiscal_year, values, {}),
                fragment="dashboard/_targets_form.html", cache="no-store")


async def _targets_again(request: Request, fiscal_year: int, values: dict, errors: dict) -> object:
    return page(request, "dashboard/targets.html", await targets_context(fiscal_year, values, errors),
                fragment="dashboard/_targets_form.html", status_code=422, cache="no-store")


@post("/staff/targets", name="save_targets", guards=STAFF)
async def save_targets(request: Request) -> object:
    form = await form_dict(request)
    fiscal_year = filters.parse_year(str(form.get("year", "")))
    if fiscal_year is None:
        request.session["flash"] = _("Choose a fiscal year from the list.")
        return see_other(request, request.app.route_reverse("get_targets"))
    area_ids = [a["id"] for a in await list_areas()]
    try:
        parsed = targets.parse_targets(form, area_ids)
    except FormInvalid as invalid:
        return await _targets_again(request, fiscal_year, invalid.values, invalid.errors)
    try:
        await targets.save_targets(fiscal_year, parsed, current_account(request).id, clock.now())
    except targets.TargetsConflict:
        typed = {name: str(form.get(name, "")).strip() for name in _target_values({}, area_ids)}
        message = _("Someone else saved these targets at the same moment. Check them and save again.")
        return await _targets_again(request, fiscal_year, typed, {"form": message})
    request.session["flash"] = _("The targets for %(year)s were saved.", year=filters.fiscal_year_label(fiscal_year))
    return see_other(request, request.app.route_reverse("get_dashboard") + f"?year={fiscal_year}")


handlers = [get_dashboard, export_dashboard_table, get_targets, save_targets]
