"""Surveys (アンケート): built by the secretariat while a draft, sent to the members a target chooses — when
published, or a set time after a program ends — answered once per member, and summed up for charts and CSV.

What must never happen twice is left to the database: one response per member and one invitation per member
are unique indexes on (survey, account); one invitation round and one reminder per survey are conditional
UPDATEs of `invited_at` and `reminded_at`, so background rounds may overlap. Questions change only while the
survey is a draft (every change first touches the survey row while its status is still "draft", so a
publication waits for it), which keeps an answer's `choice` — an index into the options — meaningful.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from piccolo.query.functions.aggregate import Count

from app.i18n import TOKYO, current_locale, format_datetime, ngettext, to_tokyo
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.services.notify import outbox, push_notifications
from app.services.shared.reference import PREFECTURE_CODES, prefecture_name
from app.services.shared.refusals import FormInvalid, Refusal
from app.services.surveys.templates import TEMPLATES
from app.settings import Smtp
from db.engine import atomic, is_unique_violation
from db.tables import (
    Account,
    Application,
    Area,
    AreaFollow,
    AuditLog,
    Member,
    Program,
    Survey,
    SurveyAnswer,
    SurveyInvitation,
    SurveyQuestion,
    SurveyResponse,
)

KINDS = ("single", "multiple", "scale", "short", "long")
CHOICE_KINDS = ("single", "multiple")
TEXT_KINDS = ("short", "long")
TARGET_KINDS = ("program", "area_participants", "area_followers", "tier", "everyone")
TARGET_REFERENCE = {"program": "program", "area_participants": "area", "area_followers": "area", "tier": "tier"}
TIERS = ("basic", "premium")
FOLLOW_UP_DAYS = (7, 90, 365)
SCALE = (1, 2, 3, 4, 5)
TITLE_MAX, INTRO_MAX, QUESTION_MAX, OPTION_MAX, SCALE_LABEL_MAX = 120, 2000, 300, 100, 40
OPTIONS_MIN, OPTIONS_MAX, QUESTIONS_MAX = 2, 20, 40
SHORT_MAX, LONG_MAX = 200, 4000
OPEN_DAYS_DEFAULT, OPEN_DAYS_MAX = 14, 90
# One reminder, two days before the close, to those who have not answered; never within a day of the
# invitation itself (a survey open for two days gets none).
REMIND_BEFORE = timedelta(days=2)
REMIND_NOT_BEFORE = timedelta(days=1)
NOTIFICATION_TITLE_MAX = 120
# Filters on an anonymous survey must not narrow the respondents to one or two people, whose answers would
# then be theirs for anyone who knows who attended: below this, nothing is shown.
ANONYMOUS_MIN_GROUP = 3
CHUNK = 500  # rows per INSERT and ids per IN (...)

MISSING = {
    "single": _l("Choose one answer."),
    "multiple": _l("Choose at least one answer."),
    "scale": _l("Choose a number from 1 to 5."),
    "short": _l("Write your answer."),
    "long": _l("Write your answer."),
}


class SurveyInvalid(FormInvalid):
    """What staff entered cannot be saved: a message per field."""


class SurveyRefused(Refusal):
    """The step is not possible in the survey's state; `reason` is a code the page turns into a message."""


class AnswersInvalid(FormInvalid):
    """A member's answers cannot be accepted: a message per question id ("form" for the form as a whole)."""


def answer_path(survey_id: int) -> str:
    """The member's answer page. Invitations are made outside any request (the background round), so the
    path is written here; tests/routes/test_survey_pages.py checks it against the route."""
    return f"/surveys/{survey_id}"


def clean_text(value: str) -> str:
    """Typed text as it is kept: line breaks normalised, control characters dropped (PostgreSQL refuses NUL in
    text), surrounding space trimmed."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in value if c in "\n\t" or unicodedata.category(c) != "Cc").strip()


def _text(form: dict, name: str) -> str:
    value = form.get(name, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return clean_text(str(value))


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[start:start + CHUNK] for start in range(0, len(ids), CHUNK)]


async def _audit(actor_id: int | None, action: str, survey_id: int, detail: dict, now: datetime) -> None:
    await AuditLog.insert(AuditLog(actor=actor_id, action=action, target_type="survey", target_id=str(survey_id),
                                   detail=detail, created_at=now))


# --- building: title, questions, from a template --------------------------------------------------------------


def read_details(form: dict) -> tuple[str, str]:
    """(title, intro) from the builder's form."""
    title, intro = _text(form, "title"), _text(form, "intro")
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


async def get_survey(survey_id: int) -> dict | None:
    return await Survey.select().where(Survey.id == survey_id).first().output(load_json=True)


async def copy_template(key: str, actor_id: int | None, now: datetime) -> int:
    """A new draft with the template's title, introduction, questions and suggested target and timing."""
    template = TEMPLATES.get(key)
    if template is None:
        raise SurveyRefused("not_found")
    async with atomic(Survey._meta.db):
        rows = await Survey.insert(Survey(
            title=template.title, intro=template.intro, target={"kind": template.target_kind},
            follow_up_days=template.follow_up_days, open_days=template.open_days, created_by=actor_id,
            created_at=now, updated_at=now,
        )).returning(Survey.id)
        survey_id = rows[0]["id"]
        await SurveyQuestion.insert(*[
            SurveyQuestion(survey=survey_id, position=position, kind=q.kind, key=q.key, text=q.text,
                           required=q.required, options=list(q.options))
            for position, q in enumerate(template.questions)
        ])
        await _audit(actor_id, "survey.created", survey_id, {"template": key}, now)
    return survey_id


async def _hold_draft(survey_id: int, now: datetime, changes: dict | None = None) -> None:
    """Touch the survey while it is a draft (inside the caller's transaction). The UPDATE takes the row's lock
    on PostgreSQL and the write lock on SQLite, so a publication waits until this change is in, and a survey
    that is no longer a draft is refused."""
    held = await Survey.update({Survey.updated_at: now, **(changes or {})}).where(
        (Survey.id == survey_id) & (Survey.status == "draft")
    ).returning(Survey.id)
    if not held:
        raise SurveyRefused("not_draft")


async def update_details(survey_id: int, title: str, intro: str, now: datetime) -> None:
    await _hold_draft(survey_id, now, {Survey.title: title, Survey.intro: intro})


async def delete_draft(survey_id: int, actor_id: int, now: datetime) -> None:
    async with atomic(Survey._meta.db):
        deleted = await Survey.delete().where((Survey.id == survey_id) & (Survey.status == "draft")).returning(Survey.id)
        if not deleted:
            raise SurveyRefused("not_draft")
        await _audit(actor_id, "survey.deleted", survey_id, {}, now)


@dataclass(frozen=True)
class QuestionValues:
    kind: str
    text: str
    required: bool
    options: list[str]


def read_question(form: dict) -> QuestionValues:
    """A question from the builder: choices one per line; for a scale what 1 and 5 mean."""
    kind, text = _text(form, "kind"), _text(form, "text")
    errors: dict[str, str] = {}
    if kind not in KINDS:
        errors["kind"] = _("Choose the kind of question.")
    if not text:
        errors["text"] = _("Enter the question.")
    elif len(text) > QUESTION_MAX:
        errors["text"] = _("Use %(max)d characters or fewer.", max=QUESTION_MAX)
    options: list[str] = []
    if kind in CHOICE_KINDS:
        options = [line for line in (clean_text(line) for line in _text(form, "options").split("\n")) if line]
        if len(options) < OPTIONS_MIN:
            errors["options"] = _("Enter at least two options, one per line.")
        elif len(options) > OPTIONS_MAX:
            errors["options"] = _("Use %(count)d options or fewer.", count=OPTIONS_MAX)
        elif any(len(option) > OPTION_MAX for option in options):
            errors["options"] = _("Keep each option to %(max)d characters or fewer.", max=OPTION_MAX)
        elif len(set(options)) != len(options):
            errors["options"] = _("Each option must be different.")
    elif kind == "scale":
        options = [_text(form, "low"), _text(form, "high")]
        if not all(options):
            errors["scale"] = _("Enter what 1 and what 5 mean, for example “Not satisfied” and “Satisfied”.")
        elif any(len(label) > SCALE_LABEL_MAX for label in options):
            errors["scale"] = _("Keep each label to %(max)d characters or fewer.", max=SCALE_LABEL_MAX)
    if errors:
        raise SurveyInvalid(errors)
    return QuestionValues(kind, text, _text(form, "required") in ("1", "on", "true"), options)


async def questions_of(survey_id: int) -> list[dict]:
    return await SurveyQuestion.select().where(SurveyQuestion.survey == survey_id).order_by(
        SurveyQuestion.position).order_by(SurveyQuestion.id).output(load_json=True)


def _question_columns(values: QuestionValues) -> dict:
    return {SurveyQuestion.kind: values.kind, SurveyQuestion.text: values.text,
            SurveyQuestion.required: values.required, SurveyQuestion.options: values.options}


async def add_question(survey_id: int, values: QuestionValues, now: datetime) -> int:
    async with atomic(Survey._meta.db):
        await _hold_draft(survey_id, now)
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
        await _hold_draft(survey_id, now)
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
        await _hold_draft(survey_id, now)
        deleted = await SurveyQuestion.delete().where(
            (SurveyQuestion.id == question_id) & (SurveyQuestion.survey == survey_id)
        ).returning(SurveyQuestion.id)
        if not deleted:
            raise SurveyRefused("not_found")
        await _renumber(await _ordered_ids(survey_id))


async def move_question(survey_id: int, question_id: int, direction: str, now: datetime) -> None:
    """One place up or down; the first stays first and the last stays last."""
    async with atomic(Survey._meta.db):
        await _hold_draft(survey_id, now)
        ids = await _ordered_ids(survey_id)
        if question_id not in ids or direction not in ("up", "down"):
            raise SurveyRefused("not_found")
        here = ids.index(question_id)
        there = here - 1 if direction == "up" else here + 1
        if 0 <= there < len(ids):
            ids[here], ids[there] = ids[there], ids[here]
        await _renumber(ids)


# --- who and when: target, timing, close date, anonymity ----------------------------------------------------


@dataclass(frozen=True)
class Plan:
    target: dict
    program_id: int | None
    follow_up_days: int | None
    open_days: int
    closes_at: datetime | None
    anonymous: bool


def end_of_day(day: date) -> datetime:
    """A close date is the last minute of that day, Japan time."""
    return datetime.combine(day, time(23, 59), TOKYO)


async def _existing_id(table, text: str) -> int | None:
    if text.isdecimal() and len(text) <= 9 and await table.exists().where(table.id == int(text)):
        return int(text)
    return None


async def read_plan(form: dict, now: datetime) -> Plan:
    """Target, timing and close date from the builder. The close date may stay empty while a draft; the
    publication asks for it."""
    errors: dict[str, str] = {}
    kind = _text(form, "target_kind")
    target: dict = {"kind": kind}
    program_id = None
    if kind not in TARGET_KINDS:
        errors["target_kind"] = _("Choose who receives the survey.")
    elif kind == "program":
        program_id = target["program"] = await _existing_id(Program, _text(form, "program"))
        if program_id is None:
            errors["program"] = _("Choose the program.")
    elif kind in ("area_participants", "area_followers"):
        target["area"] = await _existing_id(Area, _text(form, "area"))
        if target["area"] is None:
            errors["area"] = _("Choose the area.")
    elif kind == "tier":
        target["tier"] = _text(form, "tier")
        if target["tier"] not in TIERS:
            errors["tier"] = _("Choose the tier.")
    timing = _text(form, "timing") or "publish"
    follow_up_days = None
    if timing != "publish":
        if not (timing.isdecimal() and int(timing) in FOLLOW_UP_DAYS):
            errors["timing"] = _("Choose when the survey is sent.")
        elif kind != "program":
            errors["timing"] = _("A survey sent after a program needs that program: choose “Participants of one program”.")
        else:
            follow_up_days = int(timing)
    open_days, closes_at = OPEN_DAYS_DEFAULT, None
    if follow_up_days:
        text = _text(form, "open_days") or str(OPEN_DAYS_DEFAULT)
        if text.isdecimal() and 1 <= int(text) <= OPEN_DAYS_MAX:
            open_days = int(text)
        else:
            errors["open_days"] = _("Enter a whole number from %(low)d to %(high)d.", low=1, high=OPEN_DAYS_MAX)
    else:
        text = _text(form, "close_date")
        try:
            closes_at = end_of_day(date.fromisoformat(text)) if text else None
        except ValueError:
            errors["close_date"] = _("Enter a date.")
        if closes_at is not None and closes_at <= now:
            errors["close_date"] = _("Choose today or a later day.")
    if errors:
        raise SurveyInvalid(errors)
    return Plan(target, program_id, follow_up_days, open_days, closes_at, _text(form, "anonymous") in ("1", "on"))


async def save_plan(survey_id: int, plan: Plan, now: datetime) -> None:
    await _hold_draft(survey_id, now, {
        Survey.target: plan.target, Survey.program: plan.program_id, Survey.follow_up_days: plan.follow_up_days,
        Survey.open_days: plan.open_days, Survey.closes_at: plan.closes_at, Survey.anonymous: plan.anonymous,
    })


async def target_accounts(target: dict) -> list[int]:
    """The active members a target reaches now. Participants are those whose attendance was recorded."""
    kind = target.get("kind")
    attended = (Application.status == "attended") & (Application.member.account.status == "active")
    attendee = Application.member.account.as_alias("account")
    if kind == "program" and target.get("program"):
        rows = await Application.select(attendee).where(attended & (Application.program == target["program"]))
    elif kind == "area_participants" and target.get("area"):
        rows = await Application.select(attendee).where(attended & (Application.program.area == target["area"]))
    elif kind == "area_followers" and target.get("area"):
        rows = await AreaFollow.select(AreaFollow.member.account.as_alias("account")).where(
            (AreaFollow.area == target["area"]) & (AreaFollow.member.account.status == "active"))
    elif kind == "tier" and target.get("tier") in TIERS:
        rows = await Member.select(Member.account.as_alias("account")).where(
            (Member.tier == target["tier"]) & (Member.account.status == "active"))
    elif kind == "everyone":
        rows = await Member.select(Member.account.as_alias("account")).where(Member.account.status == "active")
    else:
        return []
    return sorted({row["account"] for row in rows})


async def target_programs() -> list[dict]:
    """The programs a survey can be addressed to (and its results filtered by): the ones the public has
    seen, the latest start first, with their area's name and end."""
    return await Program.select(Program.id, Program.title, Program.ends_at, Program.area.name.as_alias("area_name")).where(
        Program.status.is_in(["published", "closed", "completed"])
    ).order_by(Program.starts_at, ascending=False)


async def _window(survey: dict, question_count: int, now: datetime) -> tuple[datetime, datetime]:
    """When a survey being published opens and closes; SurveyInvalid with every problem at once."""
    errors: dict[str, str] = {}
    if question_count == 0:
        errors["questions"] = _("Add at least one question.")
    target = survey["target"] or {}
    program = None
    if target.get("kind") == "program":
        program = await Program.select(Program.ends_at).where(Program.id == (target.get("program") or 0)).first()
    kind = target.get("kind")
    chosen = target.get(TARGET_REFERENCE[kind]) if kind in TARGET_REFERENCE else True
    if kind not in TARGET_KINDS or not chosen or (kind == "program" and program is None):
        errors["target_kind"] = _("Choose who receives the survey.")
    opens_at, closes_at = now, survey["closes_at"]
    if survey["follow_up_days"]:
        if program is not None:
            opens_at = program["ends_at"] + timedelta(days=survey["follow_up_days"])
            closes_at = opens_at + timedelta(days=survey["open_days"])
            if closes_at <= now:
                errors["timing"] = _("The program ended on %(date)s: a survey %(days)d days later would already be "
                                     "closed. Choose another timing.", date=format_datetime(program["ends_at"], "medium"),
                                     days=survey["follow_up_days"])
    elif closes_at is None:
        errors["close_date"] = _("Choose the close date.")
    elif closes_at <= now:
        errors["close_date"] = _("The close date has passed. Choose a later one.")
    if errors:
        raise SurveyInvalid(errors)
    return opens_at, closes_at


async def publish(survey_id: int, actor_id: int, now: datetime) -> datetime:
    """Publish a draft: its questions are fixed from now on. Returns when invitations go out."""
    async with atomic(Survey._meta.db):
        claimed = await Survey.update({Survey.status: "published", Survey.published_at: now, Survey.updated_at: now}).where(
            (Survey.id == survey_id) & (Survey.status == "draft")
        ).returning(Survey.id)
        if not claimed:
            raise SurveyRefused("not_draft")
        survey = await Survey.select().where(Survey.id == survey_id).first().output(load_json=True)
        count = await SurveyQuestion.count().where(SurveyQuestion.survey == survey_id)
        opens_at, closes_at = await _window(survey, count, now)  # refusing rolls the publication back
        await Survey.update({Survey.opens_at: opens_at, Survey.closes_at: closes_at}).where(Survey.id == survey_id)
        await _audit(actor_id, "survey.published", survey_id,
                     {"opens_at": opens_at.isoformat(), "closes_at": closes_at.isoformat()}, now)
    return opens_at


async def close_now(survey_id: int, actor_id: int, now: datetime) -> None:
    async with atomic(Survey._meta.db):
        closed = await Survey.update({Survey.status: "closed", Survey.closes_at: now, Survey.updated_at: now}).where(
            (Survey.id == survey_id) & (Survey.status == "published")
        ).returning(Survey.id)
        if not closed:
            raise SurveyRefused("not_published")
        await _audit(actor_id, "survey.closed", survey_id, {}, now)


# --- the background round: invitations, one reminder, closing --------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """What the messages of a round need besides the survey: mail links are absolute, texts in the site's language."""

    smtp: Smtp
    base_url: str
    site_name: str


@dataclass
class RoundStats:
    closed: int = 0
    invited: int = 0
    reminded: int = 0


def _fit(make: Callable[[str], str], title: str, limit: int = NOTIFICATION_TITLE_MAX) -> str:
    """A notification title made from a survey title, shortened with … when the two together are too long."""
    text = make(title)
    if len(text) > limit:
        text = make(title[: max(1, len(title) - (len(text) - limit) - 1)] + "…")
    return text


async def announcement(survey: dict, reminder: bool) -> tuple[str, str]:
    """The title and body of an invitation (or of the reminder) in the inbox and the push."""
    closes = format_datetime(survey["closes_at"], "short")
    if reminder:
        title = _fit(lambda t: _("Reminder: %(title)s", title=t), survey["title"])
        return title, _("The survey closes on %(date)s. You can still answer.", date=closes)
    title = _fit(lambda t: _("Please answer: %(title)s", title=t), survey["title"])
    count = await SurveyQuestion.count().where(SurveyQuestion.survey == survey["id"])
    return title, ngettext("%(num)d question, open until %(date)s.", "%(num)d questions, open until %(date)s.", count,
                           date=closes)


async def _announce(survey: dict, accounts: list[int], reminder: bool, now: datetime, out: Outgoing) -> None:
    """Inside the round's transaction: one notification (the inbox of each, and a push to those who want
    survey pushes) and a mail to each confirmed address."""
    closes = format_datetime(survey["closes_at"], "short")
    path = answer_path(survey["id"])
    title, body = await announcement(survey, reminder)
    await push_notifications.create_notification(push_notifications.Target(topic="surveys", account_ids=accounts), title, body,
                                                 path, survey["created_by"], send_at=now)
    link = out.base_url + path
    for chunk in _chunks(accounts):
        rows = await Account.select(Account.email, Account.display_name).where(
            Account.id.is_in(chunk) & Account.email.is_not_null() & Account.email_verified_at.is_not_null()
            & (Account.status == "active"))
        for row in rows:
            names = {"name": row["display_name"], "title": survey["title"], "date": closes, "link": link,
                     "site": out.site_name}
            if reminder:
                subject = _("[%(site)s] Reminder: the survey “%(title)s” closes soon", **names)
                text = _("Dear %(name)s,\n\nThe survey “%(title)s” is open until %(date)s. If you have not found the "
                         "time yet, you can still answer in the app:\n%(link)s\n\n%(site)s", **names)
            else:
                subject = _("[%(site)s] Please answer the survey “%(title)s”", **names)
                text = _("Dear %(name)s,\n\nPlease answer the survey “%(title)s”. It is open until %(date)s.\n\n"
                         "Answer in the app:\n%(link)s\n\nYour answers help us shape the programs and the support for "
                         "people who keep in touch with the region. Thank you.\n\n%(site)s", **names)
            await outbox.enqueue(out.smtp, row["email"], subject, text,
                                 "survey_reminder" if reminder else "survey_invite", now=now)


async def _invite(survey: dict, now: datetime, out: Outgoing) -> int:
    accounts = await target_accounts(survey["target"] or {})
    async with atomic(Survey._meta.db):
        claimed = await Survey.update({Survey.invited_at: now}).where(
            (Survey.id == survey["id"]) & (Survey.status == "published") & Survey.invited_at.is_null()
        ).returning(Survey.id)
        if not claimed:
            return 0  # another round got there first
        for chunk in _chunks(accounts):
            await SurveyInvitation.insert(*[SurveyInvitation(survey=survey["id"], account=a, created_at=now) for a in chunk])
        if accounts:
            await _announce(survey, accounts, False, now, out)
    return len(accounts)


async def _remind(survey: dict, now: datetime, out: Outgoing) -> int:
    async with atomic(Survey._meta.db):
        claimed = await Survey.update({Survey.reminded_at: now}).where(
            (Survey.id == survey["id"]) & (Survey.status == "published") & Survey.reminded_at.is_null()
        ).returning(Survey.id)
        if not claimed:
            return 0
        waiting = await SurveyInvitation.update({SurveyInvitation.reminded_at: now}).where(
            (SurveyInvitation.survey == survey["id"]) & SurveyInvitation.responded_at.is_null()
        ).returning(SurveyInvitation.account)
        accounts = sorted(row["account"] for row in waiting)
        if accounts:
            await _announce(survey, accounts, True, now, out)
    return len(accounts)


async def dispatch_due(smtp: Smtp, now: datetime, *, base_url: str, site_name: str, locale: str = "ja") -> RoundStats:
    """One round: close what is past its close date, invite the targets of what has opened, and send the one
    reminder of what closes within two days. Safe to run in several processes at once."""
    out = Outgoing(smtp, base_url.rstrip("/"), site_name)
    stats = RoundStats()
    token = current_locale.set(locale)
    try:
        closed = await Survey.update({Survey.status: "closed", Survey.updated_at: now}).where(
            (Survey.status == "published") & (Survey.closes_at <= now)
        ).returning(Survey.id)
        stats.closed = len(closed)
        published = (Survey.status == "published") & (Survey.closes_at > now)
        for survey in await Survey.select().where(
            published & (Survey.opens_at <= now) & Survey.invited_at.is_null()
        ).order_by(Survey.id).output(load_json=True):
            stats.invited += await _invite(survey, now, out)
        for survey in await Survey.select().where(
            published & Survey.reminded_at.is_null() & (Survey.closes_at <= now + REMIND_BEFORE)
            & (Survey.invited_at <= now - REMIND_NOT_BEFORE)
        ).order_by(Survey.id).output(load_json=True):
            stats.reminded += await _remind(survey, now, out)
    finally:
        current_locale.reset(token)
    return stats


# --- the member: what is open, answering once -------------------------------------------------------------------


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


# --- results: rate, counts per question, free text, CSV -------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """Narrow the respondents: those who attended a program, those tied to an area (following it or having
    attended a program there), those whose home prefecture was this one when they answered."""

    program_id: int | None = None
    area_id: int | None = None
    prefecture: str = ""

    @property
    def any(self) -> bool:
        return bool(self.program_id or self.area_id or self.prefecture)


def read_filters(query: dict) -> Filters:
    def number(name: str) -> int | None:
        text = str(query.get(name) or "")
        return int(text) if text.isdecimal() and len(text) <= 9 else None

    prefecture = str(query.get("prefecture") or "")
    return Filters(number("program"), number("area"), prefecture if prefecture in PREFECTURE_CODES else "")


async def _accounts_matching(filters: Filters) -> set[int] | None:
    """Accounts the program and area filters allow; None when neither is set."""
    accounts: set[int] | None = None
    attendee = Application.member.account.as_alias("account")
    if filters.program_id:
        accounts = {row["account"] for row in await Application.select(attendee).where(
            (Application.program == filters.program_id) & (Application.status == "attended"))}
    if filters.area_id:
        tied = {row["account"] for row in await AreaFollow.select(AreaFollow.member.account.as_alias("account")).where(
            AreaFollow.area == filters.area_id)}
        tied |= {row["account"] for row in await Application.select(attendee).where(
            (Application.program.area == filters.area_id) & (Application.status == "attended"))}
        accounts = tied if accounts is None else accounts & tied
    return accounts


def scale_label(number: int, options: list[str]) -> str:
    """"1 (Not satisfied)", "2", … "5 (Satisfied)"."""
    if number == 1 and options:
        return _("%(number)d (%(label)s)", number=1, label=options[0])
    if number == 5 and len(options) > 1:
        return _("%(number)d (%(label)s)", number=5, label=options[1])
    return str(number)


def summarise(question: dict, answers: list[dict], respondents: dict[int, dict]) -> dict:
    """Counts and shares of one question. The base of a share is the respondents who answered this question,
    so shares of a multiple-choice question may add up to more than 100 %."""
    base = len({answer["response"] for answer in answers})
    summary: dict = {"question": question, "base": base, "rows": [], "mean": None, "texts": []}
    kind = question["kind"]
    if kind in CHOICE_KINDS or kind == "scale":
        labels = question["options"] if kind in CHOICE_KINDS else [scale_label(n, question["options"]) for n in SCALE]
        counts = [0] * len(labels)
        for answer in answers:
            index = answer["choice"] if kind in CHOICE_KINDS else (answer["number"] or 0) - 1
            if index is not None and 0 <= index < len(counts):
                counts[index] += 1
        summary["rows"] = [{"label": label, "value": count, "share": count / base if base else 0.0}
                           for label, count in zip(labels, counts, strict=True)]
        if kind == "scale" and base:
            summary["mean"] = sum(n * count for n, count in zip(SCALE, counts, strict=True)) / base
    else:
        summary["texts"] = [
            {"id": answer["id"], "text": answer["text"], "hidden": answer["hidden"],
             "submitted_at": respondents[answer["response"]]["submitted_at"],
             "respondent": respondents[answer["response"]].get("name", "")}
            for answer in sorted(answers, key=lambda a: (respondents[a["response"]]["submitted_at"], a["id"]))
        ]
    return summary


async def response_counts(survey_id: int) -> tuple[int, int]:
    """(members invited, responses received) of a survey."""
    invited = await SurveyInvitation.count().where(SurveyInvitation.survey == survey_id)
    responded = await SurveyResponse.count().where(SurveyResponse.survey == survey_id)
    return invited, responded


async def prefectures_answered(survey_id: int) -> set[str]:
    """The home prefectures respondents gave when they answered: the prefecture filter offers only these."""
    rows = await SurveyResponse.select(SurveyResponse.home_prefecture).where(SurveyResponse.survey == survey_id)
    return {row["home_prefecture"] for row in rows}


async def results(survey_id: int, filters: Filters = Filters()) -> dict:
    survey = await Survey.select().where(Survey.id == survey_id).first().output(load_json=True)
    if survey is None:
        raise SurveyRefused("not_found")
    questions = await questions_of(survey_id)
    invited = await SurveyInvitation.count().where(SurveyInvitation.survey == survey_id)
    responded = await SurveyResponse.count().where(SurveyResponse.survey == survey_id)
    query = SurveyResponse.select(SurveyResponse.id, SurveyResponse.account, SurveyResponse.home_prefecture,
                                  SurveyResponse.submitted_at).where(SurveyResponse.survey == survey_id)
    if filters.prefecture:
        query = query.where(SurveyResponse.home_prefecture == filters.prefecture)
    respondents = await query.order_by(SurveyResponse.submitted_at).order_by(SurveyResponse.id)
    allowed = await _accounts_matching(filters)
    if allowed is not None:
        respondents = [r for r in respondents if r["account"] in allowed]
    suppressed = survey["anonymous"] and filters.any and 0 < len(respondents) < ANONYMOUS_MIN_GROUP
    if suppressed:
        respondents = []
    if not survey["anonymous"]:
        await _add_names(respondents)
    by_id = {r["id"]: r for r in respondents}
    answers: list[dict] = []
    for chunk in _chunks(list(by_id)):
        answers += await SurveyAnswer.select().where(SurveyAnswer.response.is_in(chunk)).order_by(SurveyAnswer.id)
    per_question: dict[int, list[dict]] = {q["id"]: [] for q in questions}
    for answer in answers:
        per_question.setdefault(answer["question"], []).append(answer)
    return {
        "survey": survey, "questions": questions, "invited": invited, "responded": responded,
        "rate": responded / invited if invited else None, "respondents": respondents, "answers": answers,
        "suppressed": suppressed,
        "summaries": [summarise(q, per_question[q["id"]], by_id) for q in questions],
    }


async def _add_names(respondents: list[dict]) -> None:
    """Member number and name of each respondent (named surveys only)."""
    accounts = [r["account"] for r in respondents if r["account"]]
    names: dict[int, dict] = {}
    for chunk in _chunks(accounts):
        for row in await Member.select(Member.account, Member.member_no,
                                       Member.account.display_name.as_alias("display_name")).where(
                Member.account.is_in(chunk)):
            names[row["account"]] = row
    for respondent in respondents:
        row = names.get(respondent["account"])
        respondent["member_no"] = row["member_no"] if row else ""
        respondent["name"] = f"{row['display_name']} ({row['member_no']})" if row else _("Deleted account")
        respondent["display_name"] = row["display_name"] if row else ""


def _cell(question: dict, rows: list[dict]) -> str | int:
    if question["kind"] in CHOICE_KINDS:
        return " / ".join(question["options"][r["choice"]] for r in rows if 0 <= r["choice"] < len(question["options"]))
    if question["kind"] == "scale":
        return rows[0]["number"] if rows else ""
    return rows[0]["text"] if rows and not rows[0]["hidden"] else ""


def responses_table(result: dict) -> tuple[list[str], list[list]]:
    """One row per respondent and one column per question. Free text staff hid stays out; an anonymous
    survey has no column that says who answered."""
    questions, anonymous = result["questions"], result["survey"]["anonymous"]
    headers = [_("Response"), _("Submitted at"), _("Home prefecture")]
    if not anonymous:
        headers += [_("Member number"), _("Display name")]
    headers += [f"Q{n}. {q['text']}" for n, q in enumerate(questions, start=1)]
    answers: dict[tuple[int, int], list[dict]] = {}
    for answer in result["answers"]:
        answers.setdefault((answer["response"], answer["question"]), []).append(answer)
    lines = []
    for number, respondent in enumerate(result["respondents"], start=1):
        line = [number, to_tokyo(respondent["submitted_at"]).strftime("%Y-%m-%d %H:%M"),
                prefecture_name(respondent["home_prefecture"]) if respondent["home_prefecture"] else ""]
        if not anonymous:
            line += [respondent["member_no"], respondent["display_name"]]
        line += [_cell(q, answers.get((respondent["id"], q["id"]), [])) for q in questions]
        lines.append(line)
    return headers, lines


def summary_table(result: dict) -> tuple[list[str], list[list]]:
    """Per question: respondents, then each option with its count and share (the figures of the charts)."""
    headers = [_("Question"), _("Answer"), _("Count"), _("Share (percent)")]
    lines: list[list] = []
    for number, summary in enumerate(result["summaries"], start=1):
        label = f"Q{number}. {summary['question']['text']}"
        lines.append([label, _("Respondents"), summary["base"], ""])
        for row in summary["rows"]:
            lines.append([label, row["label"], row["value"], round(row["share"] * 100, 1)])
        if summary["mean"] is not None:
            lines.append([label, _("Mean"), round(summary["mean"], 2), ""])
        if summary["question"]["kind"] in TEXT_KINDS:
            shown = sum(1 for t in summary["texts"] if not t["hidden"])
            lines.append([label, _("Free-text answers (not hidden)"), shown, ""])
    return headers, lines


async def set_hidden(survey_id: int, answer_id: int, hidden: bool, actor_id: int, now: datetime) -> None:
    """Hide a free-text answer from exports (or show it again); the answer stays in the list for staff."""
    answer = await SurveyAnswer.select(
        SurveyAnswer.question.survey.as_alias("survey"), SurveyAnswer.question.kind.as_alias("kind"),
    ).where(SurveyAnswer.id == answer_id).first()
    if answer is None or answer["survey"] != survey_id or answer["kind"] not in TEXT_KINDS:
        raise SurveyRefused("not_found")
    async with atomic(Survey._meta.db):
        await SurveyAnswer.update({SurveyAnswer.hidden: hidden}).where(SurveyAnswer.id == answer_id)
        await _audit(actor_id, "survey.answer_hidden" if hidden else "survey.answer_shown", survey_id,
                     {"answer": answer_id}, now)


async def text_answer(survey: dict, answer_id: int) -> dict:
    """One free-text answer as the results list shows it (who wrote it only for a named survey)."""
    row = await SurveyAnswer.select(
        SurveyAnswer.id, SurveyAnswer.text, SurveyAnswer.hidden, SurveyAnswer.response.account.as_alias("account"),
        SurveyAnswer.response.submitted_at.as_alias("submitted_at"),
    ).where(SurveyAnswer.id == answer_id).first()
    respondent = {"account": row["account"]}
    if not survey["anonymous"]:
        await _add_names([respondent])
    return {"id": row["id"], "text": row["text"], "hidden": row["hidden"], "submitted_at": row["submitted_at"],
            "respondent": respondent.get("name", "")}


# --- the staff list ----------------------------------------------------------------------------------------------


async def staff_list() -> list[dict]:
    surveys = await Survey.select(
        Survey.id, Survey.title, Survey.status, Survey.target, Survey.follow_up_days, Survey.opens_at,
        Survey.closes_at, Survey.invited_at, Survey.anonymous, Survey.created_at,
    ).order_by(Survey.id, ascending=False).output(load_json=True)
    invited = {row["survey"]: row["count"] for row in await SurveyInvitation.select(
        SurveyInvitation.survey, Count()).group_by(SurveyInvitation.survey)}
    responded = {row["survey"]: row["count"] for row in await SurveyResponse.select(
        SurveyResponse.survey, Count()).group_by(SurveyResponse.survey)}
    return [{**s, "invited": invited.get(s["id"], 0), "responded": responded.get(s["id"], 0)} for s in surveys]
