"""Who receives a survey and when: the target (a program's participants, an area's, its followers, a tier,
everyone), the timing (at publication, or a set time after the program ends), the close date and anonymity;
then publishing a draft, which fixes its questions, and closing it early."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from app.i18n import TOKYO, format_datetime
from app.i18n import gettext as _
from app.services.membership.membership import TIERS
from app.services.surveys.surveys import OPEN_DAYS_DEFAULT, SurveyInvalid, SurveyRefused, audit, form_text, hold_draft
from db.engine import atomic
from db.tables import Application, Area, AreaFollow, Member, Program, Survey, SurveyQuestion

TARGET_KINDS = ("program", "area_participants", "area_followers", "tier", "everyone")
TARGET_REFERENCE = {"program": "program", "area_participants": "area", "area_followers": "area", "tier": "tier"}
FOLLOW_UP_DAYS = (7, 90, 365)
OPEN_DAYS_MAX = 90


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


async def _read_target(form: dict, errors: dict[str, str]) -> dict:
    """{"kind": ...} and the program, area or tier it names; the program and area must exist."""
    kind = form_text(form, "target_kind")
    target: dict = {"kind": kind}
    if kind not in TARGET_KINDS:
        errors["target_kind"] = _("Choose who receives the survey.")
    elif kind == "program":
        target["program"] = await _existing_id(Program, form_text(form, "program"))
        if target["program"] is None:
            errors["program"] = _("Choose the program.")
    elif kind in ("area_participants", "area_followers"):
        target["area"] = await _existing_id(Area, form_text(form, "area"))
        if target["area"] is None:
            errors["area"] = _("Choose the area.")
    elif kind == "tier":
        target["tier"] = form_text(form, "tier")
        if target["tier"] not in TIERS:
            errors["tier"] = _("Choose the tier.")
    return target


def _read_follow_up(form: dict, kind: str, errors: dict[str, str]) -> int | None:
    """Days after the program ends, or None for "as soon as it is published"; only a program's survey follows up."""
    timing = form_text(form, "timing") or "publish"
    if timing == "publish":
        return None
    if not (timing.isdecimal() and int(timing) in FOLLOW_UP_DAYS):
        errors["timing"] = _("Choose when the survey is sent.")
    elif kind != "program":
        errors["timing"] = _("A survey sent after a program needs that program: choose “Participants of one program”.")
    else:
        return int(timing)
    return None


def _read_open_days(form: dict, errors: dict[str, str]) -> int:
    text = form_text(form, "open_days") or str(OPEN_DAYS_DEFAULT)
    if text.isdecimal() and 1 <= int(text) <= OPEN_DAYS_MAX:
        return int(text)
    errors["open_days"] = _("Enter a whole number from %(low)d to %(high)d.", low=1, high=OPEN_DAYS_MAX)
    return OPEN_DAYS_DEFAULT


def _read_close_date(form: dict, now: datetime, errors: dict[str, str]) -> datetime | None:
    """The close date (empty while a draft), today or later."""
    text = form_text(form, "close_date")
    closes_at = None
    try:
        closes_at = end_of_day(date.fromisoformat(text)) if text else None
    except ValueError:
        errors["close_date"] = _("Enter a date.")
    if closes_at is not None and closes_at <= now:
        errors["close_date"] = _("Choose today or a later day.")
    return closes_at


async def read_plan(form: dict, now: datetime) -> Plan:
    """Target, timing and close date (or days open, after a program) from the builder, every one checked here."""
    errors: dict[str, str] = {}
    target = await _read_target(form, errors)
    follow_up_days = _read_follow_up(form, target["kind"], errors)
    open_days, closes_at = OPEN_DAYS_DEFAULT, None
    if follow_up_days:
        open_days = _read_open_days(form, errors)
    else:
        closes_at = _read_close_date(form, now, errors)
        if closes_at is None and "close_date" not in errors:
            # Asked here, where it can be given, rather than at publication after the plan looked saved.
            errors["close_date"] = _("Choose the close date.")
    if errors:
        raise SurveyInvalid(errors)
    return Plan(target, target.get("program"), follow_up_days, open_days, closes_at,
                form_text(form, "anonymous") in ("1", "on"))


async def save_plan(survey_id: int, plan: Plan, now: datetime) -> None:
    await hold_draft(survey_id, now, {
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


def follow_up_window(program_ends_at: datetime, follow_up_days: int, open_days: int) -> tuple[datetime, datetime]:
    """When a follow-up of a program that ends at `program_ends_at` opens and closes."""
    opens_at = program_ends_at + timedelta(days=follow_up_days)
    return opens_at, opens_at + timedelta(days=open_days)


async def _sent_by_rule(program_id: int | None, follow_up_days: int) -> bool:
    return await Survey.exists().where(
        (Survey.program == program_id) & (Survey.follow_up_days == follow_up_days) & Survey.made_by_rule.is_not_null()
        & Survey.status.is_in(["published", "closed"]))


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
            opens_at, closes_at = follow_up_window(program["ends_at"], survey["follow_up_days"], survey["open_days"])
            if closes_at <= now:
                errors["timing"] = _("The program ended on %(date)s: a survey %(days)d days later would already be "
                                     "closed. Choose another timing.", date=format_datetime(program["ends_at"], "medium"),
                                     days=survey["follow_up_days"])
            elif not survey["made_by_rule"] and await _sent_by_rule(survey["program"], survey["follow_up_days"]):
                # The attendees would get the same questions twice for the same time after the program.
                errors["timing"] = _("The journey rule has already sent this program's follow-up survey %(days)d days "
                                     "after it. Choose another timing.", days=survey["follow_up_days"])
    elif closes_at is None:
        errors["close_date"] = _("Choose the close date.")
    elif closes_at <= now:
        errors["close_date"] = _("The close date has passed. Choose a later one.")
    if errors:
        raise SurveyInvalid(errors)
    return opens_at, closes_at


async def publish(survey_id: int, actor_id: int | None, now: datetime) -> datetime:
    """Publish a draft: its questions are fixed from now on. Returns when invitations go out. `actor_id` None:
    published by a journey rule."""
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
        await audit(actor_id, "survey.published", survey_id,
                     {"opens_at": opens_at.isoformat(), "closes_at": closes_at.isoformat()}, now)
    return opens_at


async def close_now(survey_id: int, actor_id: int, now: datetime) -> None:
    async with atomic(Survey._meta.db):
        closed = await Survey.update({Survey.status: "closed", Survey.closes_at: now, Survey.updated_at: now}).where(
            (Survey.id == survey_id) & (Survey.status == "published")
        ).returning(Survey.id)
        if not closed:
            raise SurveyRefused("not_published")
        await audit(actor_id, "survey.closed", survey_id, {}, now)
