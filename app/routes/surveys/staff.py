"""Surveys for the secretariat: the list with ready-made templates, the builder (title and introduction;
questions added, edited, reordered and removed in place by HTMX; who receives it and when), a phone-sized
preview, publication, the results with filters and charts, free text hidden from exports, and the CSV.

Staff only: a survey can reach every member, and its answers are personal data. The rules are in
app/services/surveys/; handlers here parse, call, and pick the page or the fragment.
"""

from __future__ import annotations

from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from app import guards
from app.auth import current_account
from app.i18n import current_locale, format_datetime, to_tokyo
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.rendering import page, see_other, wants_fragment
from app.routes.forms import form_dict
from app.routes.surveys.member import answer_context
from app.services.programs import areas
from app.services.shared import clock, exports
from app.services.shared.reference import PREFECTURES
from app.services.surveys import builder, plans, results, surveys
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
TIMING_LABELS = {
    "publish": _l("As soon as it is published"),
    "7": _l("One week after the program ends"),
    "90": _l("Three months after the program ends"),
    "365": _l("One year after the program ends"),
}
TIER_LABELS = {"basic": _l("Basic"), "premium": _l("Premium")}
STATUS_LABELS = {
    "draft": _l("Draft"),
    "scheduled": _l("Scheduled"),
    "open": _l("Open for answers"),
    "closed": _l("Closed for answers"),
}
REFUSALS = {
    "not_draft": _l("This survey has been published: its questions, recipients and timing can no longer change."),
    "not_found": _l("This question is no longer in the survey. Reload the page to see the current questions."),
    "not_published": _l("This survey is not open for answers."),
}
CSV_TABLES = ("responses", "summary")


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


async def _choices() -> dict:
    """The programs and areas a survey can be addressed to (and filtered by)."""
    programs = await plans.target_programs()
    area_rows = await areas.choices()
    return {
        "programs": [(str(p["id"]), f"{p['title']}（{p['area_name']}・{to_tokyo(p['ends_at']):%Y-%m-%d}）") for p in programs],
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
    return f"{label}：{detail}" if detail else label


def plan_values(survey: dict) -> dict:
    """The stored plan as the form shows it."""
    target = survey["target"] or {}
    return {
        "target_kind": target.get("kind", "everyone"), "program": str(target.get("program") or ""),
        "area": str(target.get("area") or ""), "tier": target.get("tier", ""),
        "timing": str(survey["follow_up_days"]) if survey["follow_up_days"] else "publish",
        "open_days": str(survey["open_days"]),
        "close_date": to_tokyo(survey["closes_at"]).date().isoformat() if survey["closes_at"] else "",
        "anonymous": survey["anonymous"],
    }


def _loose_target(values: dict) -> dict:
    """A target from the plan form as it stands, for the reach count (ids that do not exist reach nobody)."""
    def number(name: str) -> int | None:
        text = str(values.get(name) or "")
        return int(text) if text.isdecimal() and len(text) <= 9 else None

    return {"kind": str(values.get("target_kind") or ""), "program": number("program"), "area": number("area"),
            "tier": str(values.get("tier") or "")}


def _single(form: dict) -> dict:
    return {key: (value[0] if isinstance(value, list) and value else value) for key, value in form.items()}


def question_form_values(question: dict) -> dict:
    """A stored question as its edit form shows it: choices one per line, a scale's two labels apart."""
    kind, options = question["kind"], question["options"]
    return {
        "kind": kind, "text": question["text"], "required": question["required"],
        "options": "\n".join(options) if kind in surveys.CHOICE_KINDS else "",
        "low": options[0] if kind == "scale" and options else "",
        "high": options[1] if kind == "scale" and len(options) > 1 else "",
    }


async def builder_context(survey: dict, **overrides) -> dict:
    choices = await _choices()
    plan = overrides.pop("plan", None) or plan_values(survey)
    questions = await surveys.questions_of(survey["id"])
    question_forms = {str(q["id"]): question_form_values(q) for q in questions}
    # A new question starts as a required single choice; what was typed comes back as it was with its errors.
    question_forms["new"] = {"kind": "single", "required": True}
    question_forms.update(overrides.pop("question_values", {}))
    invited, responded = await results.response_counts(survey["id"])
    context = {
        "survey": survey,
        "status": status_of(survey),
        "status_labels": STATUS_LABELS,
        "questions": questions,
        "question_forms": question_forms,
        "editable": survey["status"] == "draft",
        "details": {"title": survey["title"], "intro": survey["intro"]},
        "details_errors": {},
        "question_errors": {},
        "plan": plan,
        "plan_errors": {},
        "publish_errors": {},
        "saved": "",
        "reach": len(await plans.target_accounts(_loose_target(plan))),
        "invited": invited,
        "responded": responded,
        "kinds": [(code, str(label)) for code, label in KIND_LABELS.items()],
        "kind_labels": KIND_LABELS,
        "target_kinds": [(code, str(label)) for code, label in TARGET_LABELS.items()],
        "timings": [(code, str(label)) for code, label in TIMING_LABELS.items()],
        "tiers": [(code, str(label)) for code, label in TIER_LABELS.items()],
        "target_text": describe_target(survey["target"], dict(choices["programs"]), dict(choices["areas"])),
        **choices,
    }
    context.update(overrides)
    return context


def _builder_url(request: Request, survey_id: int, anchor: str = "") -> str:
    return request.app.route_reverse("get_survey_builder", survey_id=survey_id) + anchor


async def _builder(request: Request, survey_id: int, fragment: str | None = None, status_code: int = 200,
                   **overrides) -> object:
    context = await builder_context(await survey_for(survey_id), **overrides)
    return page(request, "surveys/staff/survey.html", context, fragment=fragment, status_code=status_code, cache="no-store")


async def _changed(request: Request, survey_id: int, fragment: str, anchor: str, done: str) -> object:
    """After a change: HTMX gets the updated part in place, a plain form a redirect back to the builder."""
    if wants_fragment(request):
        return await _builder(request, survey_id, fragment, saved=anchor.lstrip("#"))
    request.session["flash"] = done
    return see_other(request, _builder_url(request, survey_id, anchor))


def _refused(request: Request, survey_id: int, refused: SurveyRefused) -> object:
    """The survey changed elsewhere (published in another tab, a question removed): back to the builder as it
    is now, with the reason on top."""
    request.session["flash"] = str(REFUSALS.get(refused.reason, REFUSALS["not_draft"]))
    return see_other(request, _builder_url(request, survey_id))


# --- the list --------------------------------------------------------------------------------------------------


async def list_context(values: dict | None = None, errors: dict | None = None) -> dict:
    choices = await _choices()
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
    form = _single(await form_dict(request))
    try:
        title, intro = builder.read_details(form)
    except SurveyInvalid as invalid:
        return page(request, "surveys/staff/list.html", await list_context(form, invalid.errors), status_code=422,
                    cache="no-store")
    survey_id = await builder.create_survey(current_account(request).id, title, intro, clock.now())
    request.session["flash"] = _("The draft was created. Add its questions.")
    return see_other(request, _builder_url(request, survey_id, "#questions"))


@post("/staff/surveys/from-template", name="copy_survey_template", guards=STAFF)
async def copy_survey_template(request: Request) -> object:
    key = str(_single(await form_dict(request)).get("template", ""))
    try:
        survey_id = await builder.copy_template(key, current_account(request).id, clock.now())
    except SurveyRefused:
        raise NotFoundException() from None
    request.session["flash"] = _("A draft was made from the template. Adapt it, choose who receives it, then publish.")
    return see_other(request, _builder_url(request, survey_id))


# --- the builder -----------------------------------------------------------------------------------------------


@get("/staff/surveys/{survey_id:int}", name="get_survey_builder", guards=STAFF, cache_control=None)
async def get_survey_builder(request: Request, survey_id: FromPath[int]) -> object:
    return await _builder(request, survey_id)


@post("/staff/surveys/{survey_id:int}/details", name="update_survey_details", guards=STAFF)
async def update_survey_details(request: Request, survey_id: FromPath[int]) -> object:
    form = _single(await form_dict(request))
    fragment = "surveys/staff/_details.html"
    try:
        title, intro = builder.read_details(form)
        await builder.update_details(survey_id, title, intro, clock.now())
    except SurveyInvalid as invalid:
        return await _builder(request, survey_id, fragment, 422, details=form, details_errors=invalid.errors)
    except SurveyRefused as refused:
        return _refused(request, survey_id, refused)
    return await _changed(request, survey_id, fragment, "#details", _("Saved."))


async def _question_change(request: Request, survey_id: int, key: str, change) -> object:
    """Run a change to the questions; errors come back at the question (`key`: its id, or "new")."""
    await survey_for(survey_id)
    form = _single(await form_dict(request))
    fragment = "surveys/staff/_questions.html"
    try:
        await change(form)
    except SurveyInvalid as invalid:
        return await _builder(request, survey_id, fragment, 422, question_errors={key: invalid.errors},
                              question_values={key: form})
    except SurveyRefused as refused:
        return _refused(request, survey_id, refused)
    return await _changed(request, survey_id, fragment, "#questions", _("The questions were saved."))


@post("/staff/surveys/{survey_id:int}/questions", name="add_survey_question", guards=STAFF)
async def add_survey_question(request: Request, survey_id: FromPath[int]) -> object:
    async def change(form: dict) -> None:
        await builder.add_question(survey_id, builder.read_question(form), clock.now())

    return await _question_change(request, survey_id, "new", change)


@post("/staff/surveys/{survey_id:int}/questions/{question_id:int}", name="update_survey_question", guards=STAFF)
async def update_survey_question(request: Request, survey_id: FromPath[int], question_id: FromPath[int]) -> object:
    async def change(form: dict) -> None:
        await builder.update_question(survey_id, question_id, builder.read_question(form), clock.now())

    return await _question_change(request, survey_id, str(question_id), change)


@post("/staff/surveys/{survey_id:int}/questions/{question_id:int}/delete", name="delete_survey_question", guards=STAFF)
async def delete_survey_question(request: Request, survey_id: FromPath[int], question_id: FromPath[int]) -> object:
    async def change(_form: dict) -> None:
        await builder.delete_question(survey_id, question_id, clock.now())

    return await _question_change(request, survey_id, str(question_id), change)


@post("/staff/surveys/{survey_id:int}/questions/{question_id:int}/move", name="move_survey_question", guards=STAFF)
async def move_survey_question(request: Request, survey_id: FromPath[int], question_id: FromPath[int]) -> object:
    async def change(form: dict) -> None:
        await builder.move_question(survey_id, question_id, str(form.get("direction", "")), clock.now())

    return await _question_change(request, survey_id, str(question_id), change)


@post("/staff/surveys/{survey_id:int}/plan", name="update_survey_plan", guards=STAFF)
async def update_survey_plan(request: Request, survey_id: FromPath[int]) -> object:
    form = _single(await form_dict(request))
    fragment = "surveys/staff/_plan.html"
    typed = {**plan_values(await survey_for(survey_id)), **form, "anonymous": form.get("anonymous") in ("1", "on")}
    try:
        plan = await plans.read_plan(form, clock.now())
        await plans.save_plan(survey_id, plan, clock.now())
    except SurveyInvalid as invalid:
        return await _builder(request, survey_id, fragment, 422, plan=typed, plan_errors=invalid.errors)
    except SurveyRefused as refused:
        return _refused(request, survey_id, refused)
    return await _changed(request, survey_id, fragment, "#plan", _("Saved."))


@get("/staff/surveys/{survey_id:int}/reach", name="preview_survey_reach", guards=STAFF, cache_control=None)
async def preview_survey_reach(request: Request, survey_id: FromPath[int]) -> object:
    """How many members the plan form's target reaches today (the fragment, as its choices change)."""
    await survey_for(survey_id)
    values = {key: request.query_params.get(key) for key in ("target_kind", "program", "area", "tier")}
    reach = len(await plans.target_accounts(_loose_target(values)))
    return page(request, "surveys/staff/_reach.html", {"reach": reach, "plan": values}, cache="no-store")


@get("/staff/surveys/{survey_id:int}/preview", name="preview_survey", guards=STAFF, cache_control=None)
async def preview_survey(request: Request, survey_id: FromPath[int]) -> object:
    survey = await survey_for(survey_id)
    context = answer_context(survey, await surveys.questions_of(survey_id), preview=True)
    return page(request, "surveys/staff/preview.html", context, cache="no-store")


@post("/staff/surveys/{survey_id:int}/publish", name="publish_survey", guards=STAFF)
async def publish_survey(request: Request, survey_id: FromPath[int]) -> object:
    await survey_for(survey_id)
    try:
        opens_at = await plans.publish(survey_id, current_account(request).id, clock.now())
    except SurveyInvalid as invalid:
        return await _builder(request, survey_id, status_code=422, publish_errors=invalid.errors)
    except SurveyRefused as refused:
        return _refused(request, survey_id, refused)
    if opens_at <= clock.now():
        request.app.state.push_sender.wake()  # the background round sends the invitations now
        request.session["flash"] = _("Published. The invitations are on their way.")
    else:
        request.session["flash"] = _("Published. The invitations go out on %(date)s.",
                                     date=format_datetime(opens_at, "short"))
    return see_other(request, _builder_url(request, survey_id))


@post("/staff/surveys/{survey_id:int}/close", name="close_survey", guards=STAFF)
async def close_survey(request: Request, survey_id: FromPath[int]) -> object:
    await survey_for(survey_id)
    try:
        await plans.close_now(survey_id, current_account(request).id, clock.now())
    except SurveyRefused as refused:
        return _refused(request, survey_id, refused)
    request.session["flash"] = _("The survey is closed. No more answers are accepted.")
    return see_other(request, _builder_url(request, survey_id))


@post("/staff/surveys/{survey_id:int}/delete", name="delete_survey", guards=STAFF)
async def delete_survey(request: Request, survey_id: FromPath[int]) -> object:
    await survey_for(survey_id)
    try:
        await builder.delete_draft(survey_id, current_account(request).id, clock.now())
    except SurveyRefused as refused:
        return _refused(request, survey_id, refused)
    request.session["flash"] = _("The draft was deleted.")
    return see_other(request, request.app.route_reverse("list_surveys"))


# --- results ---------------------------------------------------------------------------------------------------


def chart_rows(summary: dict) -> list[dict]:
    return [{**row, "note": _("%(count)d (%(percent)s%%)", count=row["value"], percent=percent(row["share"]))}
            for row in summary["rows"]]


async def results_context(survey_id: int, query: dict) -> dict:
    filters = results.read_filters(query)
    result = await results.results(survey_id, filters)
    choices = await _choices()
    prefectures_seen = await results.prefectures_answered(survey_id)
    locale = current_locale.get()
    return {
        **result,
        "filters": filters,
        "filter_values": {"program": str(filters.program_id or ""), "area": str(filters.area_id or ""),
                          "prefecture": filters.prefecture},
        "filter_query": urlencode([(k, v) for k, v in (("program", filters.program_id), ("area", filters.area_id),
                                                       ("prefecture", filters.prefecture)) if v]),
        "rate_text": percent(result["rate"]) if result["rate"] is not None else "",
        "min_group": results.ANONYMOUS_MIN_GROUP,
        "status": status_of(result["survey"]),
        "status_labels": STATUS_LABELS,
        "kind_labels": KIND_LABELS,
        "chart_rows": chart_rows,
        "percent": percent,
        "programs": choices["programs"],
        "areas": choices["areas"],
        "prefectures": [(code, ja if locale == "ja" else en) for code, ja, en in PREFECTURES if code in prefectures_seen],
    }


@get("/staff/surveys/{survey_id:int}/results", name="get_survey_results", guards=STAFF, cache_control=None)
async def get_survey_results(request: Request, survey_id: FromPath[int]) -> object:
    await survey_for(survey_id)
    query = {key: request.query_params.get(key) for key in ("program", "area", "prefecture")}
    context = await results_context(survey_id, query)
    return page(request, "surveys/staff/results.html", context, fragment="surveys/staff/_results.html", cache="no-store")


@post("/staff/surveys/{survey_id:int}/answers/{answer_id:int}/hidden", name="set_survey_answer_hidden", guards=STAFF)
async def set_survey_answer_hidden(request: Request, survey_id: FromPath[int], answer_id: FromPath[int]) -> object:
    survey = await survey_for(survey_id)
    hidden = str(_single(await form_dict(request)).get("hidden", "")) == "1"
    try:
        await results.set_hidden(survey_id, answer_id, hidden, current_account(request).id, clock.now())
    except SurveyRefused:
        raise NotFoundException() from None
    if wants_fragment(request):
        context = {"survey": survey, "t": await results.text_answer(survey, answer_id)}
        return page(request, "surveys/staff/_text_answer.html", context, cache="no-store")
    request.session["flash"] = _("Hidden from exports.") if hidden else _("Included in exports again.")
    return see_other(request, request.app.route_reverse("get_survey_results", survey_id=survey_id) + f"#answer-{answer_id}")


@get("/staff/surveys/{survey_id:int}/csv", name="export_survey", guards=STAFF, cache_control=None)
async def export_survey(request: Request, survey_id: FromPath[int]) -> Response:
    await survey_for(survey_id)
    table = request.query_params.get("table") or "responses"
    if table not in CSV_TABLES:
        raise NotFoundException()
    filters = results.read_filters({key: request.query_params.get(key) for key in ("program", "area", "prefecture")})
    result = await results.results(survey_id, filters)
    with exports.csv_language():
        headers, lines = results.responses_table(result) if table == "responses" else results.summary_table(result)
        text = exports.csv_text(headers, lines)
    await exports.record_export(current_account(request).id, "survey", str(survey_id), {
        "table": table, "rows": len(lines), "program": filters.program_id, "area": filters.area_id,
        "prefecture": filters.prefecture,
    }, clock.now())
    return Response(
        text.encode("utf-8"),
        media_type="text/csv",
        headers={"Content-Disposition": f"attachment; filename=survey-{survey_id}-{table}.csv", "Cache-Control": "no-store"},
    )


handlers = [
    list_surveys, create_survey, copy_survey_template, get_survey_builder, update_survey_details,
    add_survey_question, update_survey_question, delete_survey_question, move_survey_question, update_survey_plan,
    preview_survey_reach, preview_survey, publish_survey, close_survey, delete_survey, get_survey_results,
    set_survey_answer_hidden, export_survey,
]
