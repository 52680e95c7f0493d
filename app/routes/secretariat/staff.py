"""The secretariat's own records: the daily record (日報) by week or month with its CSV, and the incident log."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.i18n import to_tokyo
from app.rendering import csv_download, page, see_other
from app.routes.forms import form_dict, page_number
from app.services.audit.log import action_label
from app.services.secretariat import diary, incidents
from app.services.shared import clock
from app.services.shared.refusals import FormInvalid

STAFF = [guards.staff]
INCIDENTS_PAGE = 50
View = Annotated[str, QueryParameter(name="view")]
Day = Annotated[str, QueryParameter(name="day")]
Status = Annotated[str, QueryParameter(name="status")]
PageNo = Annotated[str, QueryParameter(name="page")]


def _today() -> date:
    return to_tokyo(clock.now()).date()


def _period(view: str, day: str) -> diary.Period:
    """The week or month asked for; anything unreadable is this week."""
    try:
        chosen = date.fromisoformat(day) if day else _today()
    except ValueError:
        chosen = _today()
    if not 2000 <= chosen.year <= 2100:
        chosen = _today()
    return diary.period_of("month" if view == "month" else "week", chosen)


def _diary_url(request: Request, period: diary.Period, day: date | None = None) -> str:
    query = {"view": period.view, "day": (day or period.start).isoformat()}
    return request.app.route_reverse("list_diary") + "?" + urlencode(query)


async def _diary_context(request: Request, period: diary.Period, values: dict | None = None,
                         errors: dict | None = None) -> dict:
    entries = await diary.entries_in(period)
    return {
        "period": period, "days": diary.by_day(period, entries), "per_person": diary.minutes_per_person(entries),
        "total": sum(e["minutes"] for e in entries), "me": current_account(request).id,
        "values": values or {"day": _today().isoformat(), "minutes": "", "work": "", "inquiries": "",
                             "programs": [], "articles": []},
        "errors": errors or {}, "choices": await diary.choices(),
        "url": lambda day=None, view=period.view: _diary_url(request, diary.period_of(view, day or period.start)),
    }


@get("/staff/diary", name="list_diary", guards=STAFF, cache_control=None)
async def list_diary(request: Request, view: View = "week", day: Day = "") -> object:
    return page(request, "secretariat/diary.html", await _diary_context(request, _period(view, day)), cache="no-store")


@post("/staff/diary", name="write_diary_entry", guards=STAFF)
async def write_diary_entry(request: Request) -> object:
    form = await form_dict(request)
    try:
        values = await diary.validate(form, _today())
    except FormInvalid as invalid:
        return page(request, "secretariat/diary.html", await _diary_context(request, _period("week", ""), invalid.values,
                                                                           invalid.errors),
                    status_code=422, cache="no-store")
    await diary.write(current_account(request).id, values, clock.now())
    request.session["flash"] = _("The entry is added to %(day)s.", day=values.day.isoformat())
    return see_other(request, _diary_url(request, diary.period_of("week", values.day)))


async def _own_entry(request: Request, entry_id: int) -> dict:
    entry = await diary.entry(entry_id)
    if entry is None or entry["author"] != current_account(request).id:
        raise NotFoundException()  # another person's entry is theirs to change
    return entry


@get("/staff/diary/{entry_id:int}", name="edit_diary_entry", guards=STAFF, cache_control=None)
async def edit_diary_entry(request: Request, entry_id: FromPath[int]) -> object:
    entry = await _own_entry(request, entry_id)
    return page(request, "secretariat/diary_entry.html", {
        "entry": entry, "values": diary.form_of(entry), "errors": {}, "choices": await diary.choices()}, cache="no-store")


@post("/staff/diary/{entry_id:int}", name="update_diary_entry", guards=STAFF)
async def update_diary_entry(request: Request, entry_id: FromPath[int]) -> object:
    entry = await _own_entry(request, entry_id)
    form = await form_dict(request)
    try:
        values = await diary.validate(form, _today())
    except FormInvalid as invalid:
        return page(request, "secretariat/diary_entry.html", {
            "entry": entry, "values": invalid.values, "errors": invalid.errors, "choices": await diary.choices()},
            status_code=422, cache="no-store")
    await diary.change(entry_id, current_account(request).id, values, clock.now())
    request.session["flash"] = _("The entry is saved.")
    return see_other(request, _diary_url(request, diary.period_of("week", values.day)))


@post("/staff/diary/{entry_id:int}/delete", name="remove_diary_entry", guards=STAFF)
async def remove_diary_entry(request: Request, entry_id: FromPath[int]) -> object:
    entry = await _own_entry(request, entry_id)
    await diary.remove(entry_id, current_account(request).id)
    request.session["flash"] = _("The entry is removed.")
    return see_other(request, _diary_url(request, diary.period_of("week", entry["day"])))


@get("/staff/diary/csv", name="export_diary", guards=STAFF, cache_control=None)
async def export_diary(request: Request, view: View = "week", day: Day = "") -> object:
    filename, text = await diary.export_csv(current_account(request).id, _period(view, day), clock.now())
    return csv_download(filename, text)


# The incident log ------------------------------------------------------------------------------------


@get("/staff/incidents", name="list_incidents", guards=STAFF, cache_control=None)
async def list_incidents(request: Request, status: Status = "open", page_no: PageNo = "1") -> object:
    shown = "closed" if status == "closed" else "open"
    number = page_number(page_no)
    found = await incidents.incidents(shown, INCIDENTS_PAGE + 1, offset=(number - 1) * INCIDENTS_PAGE)
    base = request.app.route_reverse("list_incidents")
    return page(request, "secretariat/incidents.html", {
        "incidents": found[:INCIDENTS_PAGE], "status": shown, "page": number, "has_next": len(found) > INCIDENTS_PAGE,
        "open_count": await incidents.open_count(), "statuses": incidents.STATUSES,
        "list_url": lambda **q: base + "?" + urlencode({"status": shown, **q}),
        "page_url": lambda n: base + "?" + urlencode({"status": shown, "page": n}),
    }, cache="no-store")


def _blank_incident() -> dict:
    return {"occurred_at": to_tokyo(clock.now()).strftime("%Y-%m-%dT%H:%M"), "title": "", "what_happened": "",
            "affected": "", "actions": "", "told": "", "told_at": ""}


@get("/staff/incidents/new", name="new_incident", guards=STAFF, cache_control=None)
async def new_incident(request: Request) -> object:
    return page(request, "secretariat/incident_new.html", {"values": _blank_incident(), "errors": {}}, cache="no-store")


@post("/staff/incidents", name="report_incident", guards=STAFF)
async def report_incident(request: Request) -> object:
    form = await form_dict(request)
    try:
        values = incidents.validate(form, clock.now())
    except FormInvalid as invalid:
        return page(request, "secretariat/incident_new.html", {"values": invalid.values, "errors": invalid.errors},
                    status_code=422, cache="no-store")
    incident_id = await incidents.report(current_account(request).id, values, clock.now())
    request.session["flash"] = _("The incident is recorded.")
    return see_other(request, request.app.route_reverse("get_incident", incident_id=incident_id))


def _form_values(row: dict) -> dict:
    def local(moment) -> str:
        return to_tokyo(moment).strftime("%Y-%m-%dT%H:%M") if moment else ""
    return {**{name: row[name] for name in incidents.TEXT_FIELDS}, "occurred_at": local(row["occurred_at"]),
            "told_at": local(row["told_at"])}


async def _incident_page(request: Request, row: dict, values: dict, errors: dict, status_code: int = 200) -> object:
    return page(request, "secretariat/incident.html", {
        "incident": row, "values": values, "errors": errors, "history": await incidents.history(row["id"]),
        "statuses": incidents.STATUSES, "action_label": action_label}, status_code=status_code, cache="no-store")


@get("/staff/incidents/{incident_id:int}", name="get_incident", guards=STAFF, cache_control=None)
async def get_incident(request: Request, incident_id: FromPath[int]) -> object:
    row = await incidents.incident(incident_id)
    if row is None:
        raise NotFoundException()
    return await _incident_page(request, row, _form_values(row), {})


@post("/staff/incidents/{incident_id:int}", name="update_incident", guards=STAFF)
async def update_incident(request: Request, incident_id: FromPath[int]) -> object:
    row = await incidents.incident(incident_id)
    if row is None:
        raise NotFoundException()
    try:
        values = incidents.validate(await form_dict(request), clock.now())
    except FormInvalid as invalid:
        return await _incident_page(request, row, invalid.values, invalid.errors, 422)
    await incidents.update(incident_id, current_account(request).id, values, clock.now())
    request.session["flash"] = _("The incident is saved.")
    return see_other(request, request.app.route_reverse("get_incident", incident_id=incident_id))


@post("/staff/incidents/{incident_id:int}/status", name="set_incident_status", guards=STAFF)
async def set_incident_status(request: Request, incident_id: FromPath[int]) -> object:
    status = str((await form_dict(request)).get("status", ""))
    if await incidents.set_status(incident_id, current_account(request).id, status, clock.now()):
        request.session["flash"] = _("The incident is closed.") if status == "closed" else _("The incident is open again.")
    elif await incidents.incident(incident_id) is None:
        raise NotFoundException()
    return see_other(request, request.app.route_reverse("get_incident", incident_id=incident_id))


handlers = [
    list_diary, write_diary_entry, edit_diary_entry, update_diary_entry, remove_diary_entry, export_diary,
    list_incidents, new_incident, report_incident, get_incident, update_incident, set_incident_status,
]
