"""Surveys for the secretariat: the list with the ready-made templates, and a new draft, blank or from a
template; and what the builder (staff_builder.py) and the results (staff_results.py) share — the labels,
finding the survey, the programs and areas a survey is addressed to.

Staff only: a survey can reach every member, and its answers are personal data. The rules are in
app/services/surveys/; handlers here parse, call, and pick the page or the fragment.
"""

from __future__ import annotations

from litestar import Request, get, post
from litestar.exceptions import NotFoundException

from app import guards
from app.auth import current_account
from app.i18n import format_date
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.rendering import page, see_other
from app.routes.forms import form_dict, single_values
from app.services.membership.membership import TIER_LABELS
from app.services.programs import areas
from app.services.shared import clock
from app.services.surveys import builder, plans, surveys
from app.services.surveys.surveys import SurveyInvalid, SurveyRefused
from app.services.surveys.templates import TEMPLATES

STAFF = [guards.staff]
KIND_LABELS = {
    "single": _l("Single choice"),
    "multiple": _l("Multiple choice"),
    "scale": _l("Scale of 1 to 5"),
    "short": _l("Short text"),
    "long": _l("Long text"),
}
TARGET_LABELS = {
    "program": _l("Participants of one program"),
    "area_participants": _l("Participants of the programs of an area"),
    "area_followers": _l("Members following an area"),
    "tier": _l("Members of a tier"),
    "everyone": _l("Every member"),
}
STATUS_LABELS = {
    "draft": _l("Draft"),
    "scheduled": _l("Scheduled"),
    "open": _l("Open for answers"),
    "closed": _l("Closed for answers"),
}


def status_of(survey: dict) -> str:
    if survey["status"] == "published":
        return "open" if survey["invited_at"] else "scheduled"
    return survey["status"]


def percent(share: float) -> str:
    """33.3, 50 (no trailing .0): shares as people write them in a report."""
    return f"{share * 100:.1f}".removesuffix(".0")


async def survey_for(survey_id: int) -> dict:
    survey = await surveys.get_survey(survey_id)
    if survey is None:
        raise NotFoundException()
    return survey


async def target_choices() -> dict:
    """The programs and areas a survey can be addressed to (and filtered by)."""
    programs = await plans.target_programs()
    area_rows = await areas.choices()
    return {
        "programs": [(str(p["id"]), " · ".join((p["title"], p["area_name"], format_date(p["ends_at"])))) for p in programs],
        "areas": [(str(a["id"]), a["name"]) for a in area_rows],
    }


def describe_target(target: dict, programs: dict[str, str], areas: dict[str, str]) -> str:
    kind = (target or {}).get("kind", "")
    label = str(TARGET_LABELS.get(kind, "—"))
    detail = {
        "program": programs.get(str(target.get("program")), ""),
        "area_participants": areas.get(str(target.get("area")), ""),
        "area_followers": areas.get(str(target.get("area")), ""),
        "tier": str(TIER_LABELS.get(target.get("tier"), "")),
    }.get(kind, "")
    # The colon is the language's own: full-width in Japanese, ": " in English.
    return _("%(recipients)s: %(which)s", recipients=label, which=detail) if detail else label


def builder_url(request: Request, survey_id: int, anchor: str = "") -> str:
    return request.app.route_reverse("get_survey_builder", survey_id=survey_id) + anchor


# --- the list --------------------------------------------------------------------------------------------------


async def list_context(values: dict | None = None, errors: dict | None = None) -> dict:
    choices = await target_choices()
    programs, areas = dict(choices["programs"]), dict(choices["areas"])
    rows = [
        {**row, "state": status_of(row), "target_text": describe_target(row["target"], programs, areas),
         "rate": percent(row["responded"] / row["invited"]) if row["invited"] else ""}
        for row in await surveys.staff_list()
    ]
    return {"surveys": rows, "status_labels": STATUS_LABELS, "templates": list(TEMPLATES.values()),
            "values": values or {}, "errors": errors or {}}


@get("/staff/surveys", name="list_surveys", guards=STAFF, cache_control=None)
async def list_surveys(request: Request) -> object:
    return page(request, "surveys/staff/list.html", await list_context(), cache="no-store")


@post("/staff/surveys", name="create_survey", guards=STAFF)
async def create_survey(request: Request) -> object:
    form = single_values(await form_dict(request))
    try:
        title, intro = builder.read_details(form)
    except SurveyInvalid as invalid:
        return page(request, "surveys/staff/list.html", await list_context(form, invalid.errors), status_code=422,
                    cache="no-store")
    survey_id = await builder.create_survey(current_account(request).id, title, intro, clock.now())
    request.session["flash"] = _("The draft was created. Add its questions.")
    return see_other(request, builder_url(request, survey_id, "#questions"))


@post("/staff/surveys/from-template", name="copy_survey_template", guards=STAFF)
async def copy_survey_template(request: Request) -> object:
    key = str(single_values(await form_dict(request)).get("template", ""))
    try:
        survey_id = await builder.copy_template(key, current_account(request).id, clock.now())
    except SurveyRefused:
        raise NotFoundException() from None
    request.session["flash"] = _("A draft was made from the template. Adapt it, choose who receives it, then publish.")
    return see_other(request, builder_url(request, survey_id))


handlers = [list_surveys, create_survey, copy_survey_template]
