"""Building a survey while it is a draft: its title and introduction, a copy of a ready-made template, and its
questions — added, edited, moved and removed, each change holding the draft (surveys.hold_draft) so that a
publication waits for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.i18n import gettext as _
from app.services.surveys.surveys import (
    CHOICE_KINDS,
    KINDS,
    OPEN_DAYS_DEFAULT,
    SurveyInvalid,
    SurveyRefused,
    audit,
    clean_text,
    form_text,
    hold_draft,
)
from app.services.surveys.templates import TEMPLATES
from db.engine import atomic
from db.tables import Survey, SurveyQuestion

TITLE_MAX, INTRO_MAX, QUESTION_MAX, OPTION_MAX, SCALE_LABEL_MAX = 120, 2000, 300, 100, 40
OPTIONS_MIN, OPTIONS_MAX, QUESTIONS_MAX = 2, 20, 40


def read_details(form: dict) -> tuple[str, str]:
    """(title, intro) from the builder's form."""
    title, intro = form_text(form, "title"), form_text(form, "intro")
    errors = {}
    if not title:
        errors["title"] = _("Enter a title.")
    elif len(title) > TITLE_MAX:
        errors["title"] = _("Use %(max)d characters or fewer.", max=TITLE_MAX)
    if len(intro) > INTRO_MAX:
        errors["intro"] = _("Use %(max)d characters or fewer.", max=INTRO_MAX)
    if errors:
        raise SurveyInvalid(errors)
    return title, intro


async def create_survey(actor_id: int, title: str, intro: str, now: datetime) -> int:
    rows = await Survey.insert(Survey(title=title, intro=intro, target={"kind": "everyone"}, open_days=OPEN_DAYS_DEFAULT,
                                      created_by=actor_id, created_at=now, updated_at=now)).returning(Survey.id)
    return rows[0]["id"]


async def copy_template(key: str, actor_id: int | None, now: datetime, **columns) -> int | None:
    """A new draft with the template's title, introduction, questions and suggested target and timing.

    `columns` set other Survey columns from the start: a journey rule's copy names its title, program, timing
    and `made_by_rule`. Such a copy is made once (the unique index on program, timing and rule): None when it
    exists already, or is being made by another round at this moment. Staff's copies are always made."""
    template = TEMPLATES.get(key)
    if template is None:
        raise SurveyRefused("not_found")
    async with atomic(Survey._meta.db):
        values = dict(title=template.title, intro=template.intro, target={"kind": template.target_kind},
                      follow_up_days=template.follow_up_days, open_days=template.open_days, created_by=actor_id,
                      created_at=now, updated_at=now)
        rows = await Survey.insert(Survey(**{**values, **columns})).on_conflict(action="DO NOTHING").returning(Survey.id)
        if not rows:
            return None
        survey_id = rows[0]["id"]
        await SurveyQuestion.insert(*[
            SurveyQuestion(survey=survey_id, position=position, kind=q.kind, key=q.key, text=q.text,
                           required=q.required, options=list(q.options))
            for position, q in enumerate(template.questions)
        ])
        await audit(actor_id, "survey.created", survey_id,
                    {"template": key, **({"rule": columns["made_by_rule"]} if columns.get("made_by_rule") else {})}, now)
    return survey_id


async def update_details(survey_id: int, title: str, intro: str, now: datetime) -> None:
    await hold_draft(survey_id, now, {Survey.title: title, Survey.intro: intro})


async def delete_draft(survey_id: int, actor_id: int, now: datetime) -> None:
    async with atomic(Survey._meta.db):
        deleted = await Survey.delete().where((Survey.id == survey_id) & (Survey.status == "draft")).returning(Survey.id)
        if not deleted:
            raise SurveyRefused("not_draft")
        await audit(actor_id, "survey.deleted", survey_id, {}, now)


@dataclass(frozen=True)
class QuestionValues:
    kind: str
    text: str
    required: bool
    options: list[str]


def read_question(form: dict) -> QuestionValues:
    """A question from the builder: choices one per line; for a scale what 1 and 5 mean."""
    kind, text = form_text(form, "kind"), form_text(form, "text")
    errors: dict[str, str] = {}
    if kind not in KINDS:
        errors["kind"] = _("Choose the kind of question.")
    if not text:
        errors["text"] = _("Enter the question.")
    elif len(text) > QUESTION_MAX:
        errors["text"] = _("Use %(max)d characters or fewer.", max=QUESTION_MAX)
    options: list[str] = []
    if kind in CHOICE_KINDS:
        options = [line for line in (clean_text(line) for line in form_text(form, "options").split("\n")) if line]
        if len(options) < OPTIONS_MIN:
            errors["options"] = _("Enter at least two options, one per line.")
        elif len(options) > OPTIONS_MAX:
            errors["options"] = _("Use %(count)d options or fewer.", count=OPTIONS_MAX)
        elif any(len(option) > OPTION_MAX for option in options):
            errors["options"] = _("Keep each option to %(max)d characters or fewer.", max=OPTION_MAX)
        elif len(set(options)) != len(options):
            errors["options"] = _("Each option must be different.")
    elif kind == "scale":
        options = [form_text(form, "low"), form_text(form, "high")]
        if not all(options):
            errors["scale"] = _("Enter what 1 and what 5 mean, for example “Not satisfied” and “Satisfied”.")
        elif any(len(label) > SCALE_LABEL_MAX for label in options):
            errors["scale"] = _("Keep each label to %(max)d characters or fewer.", max=SCALE_LABEL_MAX)
    if errors:
        raise SurveyInvalid(errors)
    return QuestionValues(kind, text, form_text(form, "required") in ("1", "on", "true"), options)


def _question_columns(values: QuestionValues) -> dict:
    return {SurveyQuestion.kind: values.kind, SurveyQuestion.text: values.text,
            SurveyQuestion.required: values.required, SurveyQuestion.options: values.options}


async def add_question(survey_id: int, values: QuestionValues, now: datetime) -> int:
    async with atomic(Survey._meta.db):
        await hold_draft(survey_id, now)
        positions = [row["position"] for row in await SurveyQuestion.select(SurveyQuestion.position).where(
            SurveyQuestion.survey == survey_id)]
        if len(positions) >= QUESTIONS_MAX:
            raise SurveyInvalid({"text": _("A survey holds %(count)d questions at most.", count=QUESTIONS_MAX)})
        columns = {column._meta.name: value for column, value in _question_columns(values).items()}
        rows = await SurveyQuestion.insert(SurveyQuestion(survey=survey_id, position=max(positions, default=-1) + 1,
                                                          **columns)).returning(SurveyQuestion.id)
    return rows[0]["id"]


async def update_question(survey_id: int, question_id: int, values: QuestionValues, now: datetime) -> None:
    async with atomic(Survey._meta.db):
        await hold_draft(survey_id, now)
        updated = await SurveyQuestion.update(_question_columns(values)).where(
            (SurveyQuestion.id == question_id) & (SurveyQuestion.survey == survey_id)
        ).returning(SurveyQuestion.id)
        if not updated:
            raise SurveyRefused("not_found")


async def _renumber(ids: list[int]) -> None:
    for position, question_id in enumerate(ids):
        await SurveyQuestion.update({SurveyQuestion.position: position}).where(SurveyQuestion.id == question_id)


async def _ordered_ids(survey_id: int) -> list[int]:
    return [row["id"] for row in await SurveyQuestion.select(SurveyQuestion.id).where(
        SurveyQuestion.survey == survey_id).order_by(SurveyQuestion.position).order_by(SurveyQuestion.id)]


async def delete_question(survey_id: int, question_id: int, now: datetime) -> None:
    async with atomic(Survey._meta.db):
        await hold_draft(survey_id, now)
        deleted = await SurveyQuestion.delete().where(
            (SurveyQuestion.id == question_id) & (SurveyQuestion.survey == survey_id)
        ).returning(SurveyQuestion.id)
        if not deleted:
            raise SurveyRefused("not_found")
        await _renumber(await _ordered_ids(survey_id))


async def move_question(survey_id: int, question_id: int, direction: str, now: datetime) -> None:
    """One place up or down; the first stays first and the last stays last."""
    async with atomic(Survey._meta.db):
        await hold_draft(survey_id, now)
        ids = await _ordered_ids(survey_id)
        if question_id not in ids or direction not in ("up", "down"):
            raise SurveyRefused("not_found")
        here = ids.index(question_id)
        there = here - 1 if direction == "up" else here + 1
        if 0 <= there < len(ids):
            ids[here], ids[there] = ids[there], ids[here]
        await _renumber(ids)
