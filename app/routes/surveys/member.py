"""Surveys for members: the ones addressed to me (also as a card on the home screen), the answer form with a
check of each answer as it is given, the thank-you page, and a clear page for every reason a survey cannot be
answered. The rules — who may answer, what is a valid answer, once only — are in
app/services/surveys/responses.py."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from app import guards
from app.auth import current_account
from app.i18n import lazy_gettext as _l
from app.page_cache import MEMBER_PAGE
from app.rendering import page, see_other
from app.services.shared import clock
from app.services.surveys import responses
from app.services.surveys.responses import LONG_MAX, SHORT_MAX, AnswersInvalid
from app.services.surveys.surveys import SurveyRefused

MEMBERS = [guards.member]
# Why a survey cannot be answered, and the status of the page that says so.
REFUSALS = {
    "already_answered": (_l("You have already answered this survey. Thank you for your help."), 200),
    "closed": (_l("This survey has closed. Thank you for your interest."), 410),
    "not_invited": (_l("This survey is not addressed to you."), 403),
    "not_open": (_l("This survey has not started yet. You will be told when it opens."), 403),
}


def answers_from(form) -> dict[str, list[str]]:
    """The answers of a submitted form: field "q<question id>", repeated for multiple choice."""
    return {key[1:]: form.getall(key) for key in form.keys() if key.startswith("q")}


def answer_context(survey: dict, questions: list[dict], answers: dict | None = None, errors: dict | None = None,
                   preview: bool = False) -> dict:
    return {"survey": survey, "questions": questions, "answers": answers or {}, "errors": errors or {},
            "preview": preview, "short_max": SHORT_MAX, "long_max": LONG_MAX}


def _refused(request: Request, reason: str, survey_id: int, status_code: int | None = None) -> object:
    if reason == "not_found":
        raise NotFoundException()
    message, default_status = REFUSALS[reason]
    context = {"reason": reason, "message": str(message), "survey_id": survey_id}
    return page(request, "surveys/refused.html", context, status_code=status_code or default_status)


@get("/surveys", name="list_my_surveys", guards=MEMBERS, cache_control=None, opt=MEMBER_PAGE)
async def list_my_surveys(request: Request) -> object:
    account = current_account(request)
    context = {"open": await responses.open_for(account.id, clock.now()), "answered": await responses.answered_by(account.id)}
    return page(request, "surveys/list.html", context)


@get("/surveys/card", name="get_survey_card", guards=MEMBERS, cache_control=None)
async def get_survey_card(request: Request) -> object:
    """The home screen's card of surveys waiting for an answer (loaded by the page; empty when there are none)."""
    waiting = await responses.open_for(current_account(request).id, clock.now())
    return page(request, "surveys/_card.html", {"waiting": waiting}, cache="no-store")


@get("/surveys/{survey_id:int}", name="get_survey", guards=MEMBERS, cache_control=None)
async def get_survey(request: Request, survey_id: FromPath[int]) -> object:
    try:
        survey, questions = await responses.for_member(survey_id, current_account(request).id, clock.now())
    except SurveyRefused as refused:
        return _refused(request, refused.reason, survey_id)
    # Never kept for offline use: an answer form must be fresh (the survey may close, or be answered elsewhere).
    return page(request, "surveys/answer.html", answer_context(survey, questions), cache="no-store")


@post("/surveys/{survey_id:int}", name="submit_survey", guards=MEMBERS)
async def submit_survey(request: Request, survey_id: FromPath[int]) -> object:
    account = current_account(request)
    answers = answers_from(await request.form())
    try:
        await responses.submit(survey_id, account.id, answers, clock.now())
    except AnswersInvalid as invalid:
        try:
            survey, questions = await responses.for_member(survey_id, account.id, clock.now())
        except SurveyRefused as refused:  # closed or answered elsewhere while this form was filled in
            return _refused(request, refused.reason, survey_id, 409)
        context = answer_context(survey, questions, answers, invalid.errors)
        return page(request, "surveys/answer.html", context, status_code=422, cache="no-store")
    except SurveyRefused as refused:
        return _refused(request, refused.reason, survey_id, 409 if refused.reason == "already_answered" else None)
    return see_other(request, request.app.route_reverse("get_survey_thanks", survey_id=survey_id))


@post("/surveys/{survey_id:int}/questions/{question_id:int}/check", name="check_survey_answer", guards=MEMBERS)
async def check_survey_answer(request: Request, survey_id: FromPath[int], question_id: FromPath[int]) -> object:
    """One answer checked as the member gives it: the message to show under the question, or none."""
    try:
        _survey, questions = await responses.for_member(survey_id, current_account(request).id, clock.now())
    except SurveyRefused as refused:
        if refused.reason == "not_found":
            raise NotFoundException() from None
        questions = []
    question = next((q for q in questions if q["id"] == question_id), None)
    if question is None:  # closed or answered meanwhile: the full submission says so
        return page(request, "surveys/_answer_error.html", {"q": {"id": question_id}, "error": ""}, cache="no-store")
    _rows, error = responses.check_answer(question, answers_from(await request.form()).get(str(question_id), []))
    return page(request, "surveys/_answer_error.html", {"q": question, "error": error or ""}, cache="no-store")


@get("/surveys/{survey_id:int}/thanks", name="get_survey_thanks", guards=MEMBERS, cache_control=None)
async def get_survey_thanks(request: Request, survey_id: FromPath[int]) -> object:
    account = current_account(request)
    answered = await responses.answered(survey_id, account.id)
    if answered is None:
        return see_other(request, request.app.route_reverse("get_survey", survey_id=survey_id))
    waiting = await responses.open_for(account.id, clock.now())
    return page(request, "surveys/thanks.html", {"survey": answered, "waiting": waiting})


handlers = [list_my_surveys, get_survey_card, get_survey, submit_survey, check_survey_answer, get_survey_thanks]
