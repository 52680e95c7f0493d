"""The member's side of a survey: the ones open to them, the answer form's checks (each answer, then the
whole submission with every problem at once), and storing their response once."""

from __future__ import annotations

from datetime import datetime

from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.services.shared.refusals import FormInvalid
from app.services.surveys.surveys import CHOICE_KINDS, SCALE, SurveyRefused, clean_text, questions_of
from db.engine import atomic, is_unique_violation
from db.tables import Member, Survey, SurveyAnswer, SurveyInvitation, SurveyResponse

SHORT_MAX, LONG_MAX = 200, 4000
MISSING = {
    "single": _l("Choose one answer."),
    "multiple": _l("Choose at least one answer."),
    "scale": _l("Choose a number from 1 to 5."),
    "short": _l("Write your answer."),
    "long": _l("Write your answer."),
}


class AnswersInvalid(FormInvalid):
    """A member's answers cannot be accepted: a message per question id ("form" for the form as a whole)."""


async def open_for(account_id: int, now: datetime) -> list[dict]:
    """Surveys addressed to this member that are open and not yet answered, the soonest to close first."""
    survey = SurveyInvitation.survey
    return await SurveyInvitation.select(
        survey.id.as_alias("id"), survey.title.as_alias("title"), survey.closes_at.as_alias("closes_at"),
    ).where(
        (SurveyInvitation.account == account_id) & (survey.status == "published") & (survey.closes_at > now)
        & SurveyInvitation.responded_at.is_null()
    ).order_by(survey.closes_at)


async def answered_by(account_id: int, limit: int = 20) -> list[dict]:
    survey = SurveyInvitation.survey
    return await SurveyInvitation.select(
        survey.id.as_alias("id"), survey.title.as_alias("title"), SurveyInvitation.responded_at,
    ).where((SurveyInvitation.account == account_id) & SurveyInvitation.responded_at.is_not_null()).order_by(
        SurveyInvitation.responded_at, ascending=False).limit(limit)


async def answered(survey_id: int, account_id: int) -> dict | None:
    """The survey's title and when this member answered it, if they did."""
    return await SurveyInvitation.select(
        SurveyInvitation.survey.title.as_alias("title"), SurveyInvitation.responded_at,
    ).where((SurveyInvitation.survey == survey_id) & (SurveyInvitation.account == account_id)
            & SurveyInvitation.responded_at.is_not_null()).first()


async def for_member(survey_id: int, account_id: int, now: datetime) -> tuple[dict, list[dict]]:
    """The survey and its questions if this member may answer it now; SurveyRefused with the reason otherwise."""
    survey = await Survey.select().where(Survey.id == survey_id).first().output(load_json=True)
    if survey is None or survey["status"] == "draft":
        raise SurveyRefused("not_found")
    invitation = await SurveyInvitation.select(SurveyInvitation.responded_at).where(
        (SurveyInvitation.survey == survey_id) & (SurveyInvitation.account == account_id)
    ).first()
    if invitation is None:
        is_open = survey["status"] == "published" and survey["invited_at"] is not None
        raise SurveyRefused("not_invited" if is_open or survey["status"] == "closed" else "not_open")
    if invitation["responded_at"] is not None:
        raise SurveyRefused("already_answered")
    if survey["status"] != "published" or survey["closes_at"] <= now:
        raise SurveyRefused("closed")
    return survey, await questions_of(survey_id)


def check_answer(question: dict, values: list[str]) -> tuple[list[dict], str | None]:
    """One question's answer as rows to store, or the message saying what is wrong with it."""
    kind = question["kind"]
    values = [value for value in (clean_text(v) for v in values) if value]
    if not values:
        return [], (str(MISSING[kind]) if question["required"] else None)
    if kind != "multiple" and len(values) > 1:
        return [], _("Give one answer only.")
    if kind in CHOICE_KINDS:
        if not all(v.isdecimal() and len(v) <= 3 and int(v) < len(question["options"]) for v in values):
            return [], _("Choose from the options shown.")
        return [{"choice": index} for index in sorted({int(v) for v in values})], None
    if kind == "scale":
        if values[0] not in {str(n) for n in SCALE}:
            return [], _("Choose a number from 1 to 5.")
        return [{"number": int(values[0])}], None
    limit = SHORT_MAX if kind == "short" else LONG_MAX
    if len(values[0]) > limit:
        return [], _("Use %(max)d characters or fewer (now %(count)d).", max=limit, count=len(values[0]))
    return [{"text": values[0]}], None


def check_answers(questions: list[dict], raw: dict[str, list[str]]) -> list[dict]:
    """Every answer of a submission, keyed by question id; AnswersInvalid with every problem at once."""
    errors: dict[str, str] = {}
    if set(raw) - {str(q["id"]) for q in questions}:
        errors["form"] = _("The form answered a question that is not in this survey. Reload the page and try again.")
    rows = []
    for question in questions:
        answer_rows, error = check_answer(question, raw.get(str(question["id"]), []))
        if error:
            errors[str(question["id"])] = error
        rows += [{"question": question["id"], **row} for row in answer_rows]
    if errors:
        raise AnswersInvalid(errors)
    return rows


async def submit(survey_id: int, account_id: int, raw: dict[str, list[str]], now: datetime) -> int:
    """Store one member's answers: all of them or nothing, once. A second submission — a double tap, another
    device — meets the unique index and is told the survey is already answered."""
    _survey, questions = await for_member(survey_id, account_id, now)
    rows = check_answers(questions, raw)
    member = await Member.select(Member.home_prefecture).where(Member.account == account_id).first()
    try:
        async with atomic(Survey._meta.db):
            if not await Survey.exists().where((Survey.id == survey_id) & (Survey.status == "published")
                                               & (Survey.closes_at > now)):
                raise SurveyRefused("closed")  # closed by staff since the read above
            response = await SurveyResponse.insert(SurveyResponse(
                survey=survey_id, account=account_id, home_prefecture=member["home_prefecture"] if member else "",
                submitted_at=now,
            )).returning(SurveyResponse.id)
            response_id = response[0]["id"]
            if rows:
                await SurveyAnswer.insert(*[SurveyAnswer(response=response_id, **row) for row in rows])
            await SurveyInvitation.update({SurveyInvitation.responded_at: now}).where(
                (SurveyInvitation.survey == survey_id) & (SurveyInvitation.account == account_id))
    except Exception as exc:
        if is_unique_violation(exc):
            raise SurveyRefused("already_answered") from None
        raise
    return response_id
