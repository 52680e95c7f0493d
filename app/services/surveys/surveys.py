"""Surveys (アンケート): built by the secretariat while a draft, sent to the members a target chooses — when
published, or a set time after a program ends — answered once per member, and summed up for charts and CSV.

What must never happen twice is left to the database: one response per member and one invitation per member
are unique indexes on (survey, account); one invitation round and one reminder per survey are conditional
UPDATEs of `invited_at` and `reminded_at`, so background rounds may overlap. Questions change only while the
survey is a draft (every change first touches the survey row while its status is still "draft", so a
publication waits for it: `hold_draft`), which keeps an answer's `choice` — an index into the options — meaningful.

This module holds what the parts share: the kinds of question, the refusals, reading one survey and its
questions, the staff list, and the small helpers. The parts: builder.py (title, questions, templates),
plans.py (who receives it and when; publishing and closing), invitations.py (the background round:
invitations, one reminder, closing), responses.py (the member answering) and results.py (figures, free text, CSV).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from piccolo.query.functions.aggregate import Count

from app.services.shared.refusals import FormInvalid, Refusal
from app.services.shared.text import clean_text
from db.tables import AuditLog, Survey, SurveyInvitation, SurveyQuestion, SurveyResponse

KINDS = ("single", "multiple", "scale", "short", "long")
CHOICE_KINDS = ("single", "multiple")
TEXT_KINDS = ("short", "long")
SCALE = (1, 2, 3, 4, 5)
OPEN_DAYS_DEFAULT = 14
CHUNK = 500  # rows per INSERT and ids per IN (...)


class SurveyInvalid(FormInvalid):
    """What staff entered cannot be saved: a message per field."""


class SurveyRefused(Refusal):
    """The step is not possible in the survey's state; `reason` is a code the page turns into a message."""


def answer_path(survey_id: int) -> str:
    """The member's answer page. Invitations are made outside any request (the background round), so the
    path is written here; tests/routes/test_survey_pages.py checks it against the route."""
    return f"/surveys/{survey_id}"


def form_text(form: dict, name: str) -> str:
    value = form.get(name, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return clean_text(str(value))


def fit(make: Callable[[str], str], text: str, limit: int) -> str:
    """`make(text)` (a notification title made from a survey title, a title made from a program's name),
    with `text` shortened with … when the whole would be longer than `limit`."""
    made = make(text)
    if len(made) > limit:
        made = make(text[: max(1, len(text) - (len(made) - limit) - 1)] + "…")
    return made


def chunks(ids: list[int]) -> list[list[int]]:
    return [ids[start:start + CHUNK] for start in range(0, len(ids), CHUNK)]


async def audit(actor_id: int | None, action: str, survey_id: int, detail: dict, now: datetime) -> None:
    await AuditLog.insert(AuditLog(actor=actor_id, action=action, target_type="survey", target_id=str(survey_id),
                                   detail=detail, created_at=now))


async def hold_draft(survey_id: int, now: datetime, changes: dict | None = None) -> None:
    """Touch the survey while it is a draft (inside the caller's transaction). The UPDATE takes the row's lock
    on PostgreSQL and the write lock on SQLite, so a publication waits until this change is in, and a survey
    that is no longer a draft is refused."""
    held = await Survey.update({Survey.updated_at: now, **(changes or {})}).where(
        (Survey.id == survey_id) & (Survey.status == "draft")
    ).returning(Survey.id)
    if not held:
        raise SurveyRefused("not_draft")


async def get_survey(survey_id: int) -> dict | None:
    return await Survey.select().where(Survey.id == survey_id).first().output(load_json=True)


async def questions_of(survey_id: int) -> list[dict]:
    return await SurveyQuestion.select().where(SurveyQuestion.survey == survey_id).order_by(
        SurveyQuestion.position).order_by(SurveyQuestion.id).output(load_json=True)


async def staff_list() -> list[dict]:
    """Every survey, the latest first, with how many members were invited and how many answered."""
    surveys = await Survey.select(
        Survey.id, Survey.title, Survey.status, Survey.target, Survey.follow_up_days, Survey.opens_at,
        Survey.closes_at, Survey.invited_at, Survey.anonymous, Survey.created_at,
    ).order_by(Survey.id, ascending=False).output(load_json=True)
    invited = {row["survey"]: row["count"] for row in await SurveyInvitation.select(
        SurveyInvitation.survey, Count()).group_by(SurveyInvitation.survey)}
    responded = {row["survey"]: row["count"] for row in await SurveyResponse.select(
        SurveyResponse.survey, Count()).group_by(SurveyResponse.survey)}
    return [{**s, "invited": invited.get(s["id"], 0), "responded": responded.get(s["id"], 0)} for s in surveys]
