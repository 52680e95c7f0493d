"""The survey builder for the secretariat: the title and introduction; questions added, edited, reordered and
removed in place by HTMX; who receives the survey and when (with how many members that reaches today); a
phone-sized preview; publishing, closing early and deleting a draft."""

from __future__ import annotations

from datetime import timedelta

from litestar import Request, get, post
from litestar.params import FromPath

from app.auth import current_account
from app.i18n import format_datetime, to_tokyo
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.rendering import page, see_other, wants_fragment
from app.routes.forms import form_dict, single_values
from app.routes.surveys.member import answer_context
from app.routes.surveys.staff import (
    KIND_LABELS,
    STAFF,
    STATUS_LABELS,
    TARGET_LABELS,
    TIER_LABELS,
    builder_url,
    describe_target,
    status_of,
    survey_for,
    target_choices,
)
from app.services.shared import clock
from app.services.surveys import builder, plans, results, surveys
from app.services.surveys.surveys import OPEN_DAYS_DEFAULT, SurveyInvalid, SurveyRefused

TIMING_LABELS = {
    "publish": _l("As soon as it is published"),
    "7": _l("One week after the program ends"),
    "90": _l("Three months after the program ends"),
    "365": _l("One year after the program ends"),
}
REFUSALS = {
    "not_draft": _l("This survey has been published: its questions, recipients and timing can no longer change."),
    "not_found": _l("This question is no longer in the survey. Reload the page to see the current questions."),
    "not_published": _l("This survey is not open for answers."),
}


def plan_values(survey: dict) -> dict:
    """The stored plan as the form shows it."""
    target = survey["target"] or {}
    return {
        "target_kind": target.get("kind", "everyone"), "program": str(target.get("program") or ""),
        "area": str(target.get("area") or ""), "tier": target.get("tier", ""),
        "timing": str(survey["follow_up_days"]) if survey["follow_up_days"] else "publish",
        "open_days": str(survey["open_days"]),
        # A draft with no close date yet (a copied template) is offered one, as long as a follow-up stays open.
        "close_date": (to_tokyo(survey["closes_at"]) if survey["closes_at"]
                       else to_tokyo(clock.now()) + timedelta(days=OPEN_DAYS_DEFAULT)).date().isoformat(),
        "anonymous": survey["anonymous"],
    }


def _loose_target(values: dict) -> dict:
    """A target from the plan form as it stands, for the reach count (ids that do not exist reach nobody)."""
    def number(name: str) -> int | None:
        text = str(values.get(name) or "")
        return int(text) if text.isdecimal() and len(text) <= 9 else None

    return {"kind": str(values.get("target_kind") or ""), "program": number("program"), "area": number("area"),
            "tier": str(values.get("tier") or "")}


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
    choices = await target_choices()
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


async def _builder(request: Request, survey_id: int, fragment: str | None = None, status_code: int = 200,
                   **overrides) -> object:
    context = await builder_context(await survey_for(survey_id), **overrides)
    return page(request, "surveys/staff/survey.html", context, fragment=fragment, status_code=status_code, cache="no-store")


async def _changed(request: Request, survey_id: int, fragment: str, anchor: str, done: str) -> object:
    """After a change: HTMX gets the updated part in place, a plain form a redirect back to the builder."""
    if wants_fragment(request):
        return await _builder(request, survey_id, fragment, saved=anchor.lstrip("#"))
    request.session["flash"] = done
    return see_other(request, builder_url(request, survey_id, anchor))


def _refused(request: Request, survey_id: int, refused: SurveyRefused) -> object:
    """The survey changed elsewhere (published in another tab, a question removed): back to the builder as it
    is now, with the reason on top."""
    request.session["flash"] = str(REFUSALS.get(refused.reason, REFUSALS["not_draft"]))
    return see_other(request, builder_url(request, survey_id))


@get("/staff/surveys/{survey_id:int}", name="get_survey_builder", guards=STAFF, cache_control=None)
async def get_survey_builder(request: Request, survey_id: FromPath[int]) -> object:
    return await _builder(request, survey_id)


@post("/staff/surveys/{survey_id:int}/details", name="update_survey_details", guards=STAFF)
async def update_survey_details(request: Request, survey_id: FromPath[int]) -> object:
    form = single_values(await form_dict(request))
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
    form = single_values(await form_dict(request))
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
    form = single_values(await form_dict(request))
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
    return see_other(request, builder_url(request, survey_id))


@post("/staff/surveys/{survey_id:int}/close", name="close_survey", guards=STAFF)
async def close_survey(request: Request, survey_id: FromPath[int]) -> object:
    await survey_for(survey_id)
    try:
        await plans.close_now(survey_id, current_account(request).id, clock.now())
    except SurveyRefused as refused:
        return _refused(request, survey_id, refused)
    request.session["flash"] = _("The survey is closed. No more answers are accepted.")
    return see_other(request, builder_url(request, survey_id))


@post("/staff/surveys/{survey_id:int}/delete", name="delete_survey", guards=STAFF)
async def delete_survey(request: Request, survey_id: FromPath[int]) -> object:
    await survey_for(survey_id)
    try:
        await builder.delete_draft(survey_id, current_account(request).id, clock.now())
    except SurveyRefused as refused:
        return _refused(request, survey_id, refused)
    request.session["flash"] = _("The draft was deleted.")
    return see_other(request, request.app.route_reverse("list_surveys"))


handlers = [
    get_survey_builder, update_survey_details, add_survey_question, update_survey_question, delete_survey_question,
    move_survey_question, update_survey_plan, preview_survey_reach, preview_survey, publish_survey, close_survey,
    delete_survey,
]
