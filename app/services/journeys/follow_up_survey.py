"""Journey rule 1: after every completed program its attendees get the follow-up survey one week, three months
and one year later, from this one standing rule — no survey to build per program.

For each offset the rule makes a copy of the standard follow-up template (surveys/templates.py), titled with the
program's name and the offset, addressed to the program's participants with that offset, and publishes it; the
survey round (surveys/invitations.py `dispatch_due`) sends it when it opens, to those whose attendance was
recorded. Surveys staff set up by hand before the rule keep working as they are.

- Counted from the program's end (`Program.ends_at`), not from when staff mark it completed: the questions are
  about the time since the program, staff may record attendance and complete a program days after it ended, and
  a follow-up set up by hand counts from the end too (plans.follow_up_window). "completed" only says that the
  attendance, hence who is asked, is final.
- Once: `Survey.made_by_rule` is part of a unique index on (program, follow_up_days, made_by_rule); the copy is
  inserted with ON CONFLICT DO NOTHING in the transaction that publishes it, so two rounds at once make it once.
- An offset staff have already set up by hand (published or closed) keeps theirs alone. A draft does not count:
  it sends nothing, and one left unfinished must not keep the attendees from their survey.
- An offset whose survey would already be closed is skipped (a program long over when the rule is turned on).
- Online exchange meetings (kind "event") get none: the template asks about visiting the area and its programs.

Fired: one JourneyEvent per attendee invited (cause "program:<id>:<days>", fired at the invitation), recorded by
the round after the survey round sent it, so the dashboard counts invitations when and as they went out;
`next_rung` counts the invited attendees who answered.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.services.journeys import rules
from app.services.programs.activities import fiscal_year_bounds
from app.services.shared import clock
from app.services.surveys import builder, plans
from app.services.surveys.surveys import chunks
from app.services.surveys.templates import FOLLOW_UP, follow_up_title
from db.engine import atomic
from db.tables import Application, JourneyEvent, Member, Program, Survey, SurveyInvitation

RULE = "follow_up_survey"
# A program that ended before this has no follow-up left that is still open.
HORIZON = timedelta(days=max(plans.FOLLOW_UP_DAYS) + FOLLOW_UP.open_days)


def cause(program_id: int, days: int) -> str:
    return f"program:{program_id}:{days}"


async def run_due(now: datetime | None = None) -> int:
    """Make the follow-ups that are due, if the rule is on this fiscal year, and record the invitations its
    surveys sent; returns how many surveys were made."""
    now = now or clock.now()
    await _record_invitations()  # also when the rule is off now: its surveys made before still go out
    if not (await rules.setting(RULE, now)).enabled:
        return 0
    made = 0
    for program, days in await _due(now):
        async with atomic(Survey._meta.db):
            survey_id = await builder.copy_template(
                FOLLOW_UP.key, None, now, title=follow_up_title(program["title"], days, builder.TITLE_MAX),
                target={"kind": "program", "program": program["id"]}, program=program["id"], follow_up_days=days,
                made_by_rule=RULE)
            if survey_id is None:
                continue  # made before, or by another round at this moment
            await plans.publish(survey_id, None, now)
        made += 1
    return made


async def _due(now: datetime) -> list[tuple[dict, int]]:
    """(program, days) for each follow-up still to make: completed programs with attendees, an offset neither
    made by the rule nor set up by hand, and still open at some point from now."""
    programs = await Program.select(Program.id, Program.title, Program.ends_at).where(
        (Program.status == "completed") & (Program.kind == "program") & (Program.ends_at > now - HORIZON)
    ).order_by(Program.id)
    if not programs:
        return []
    ids = [program["id"] for program in programs]
    attended = {row["program"] for row in await Application.select(Application.program).where(
        Application.program.is_in(ids) & (Application.status == "attended"))}
    taken = {(row["program"], row["follow_up_days"]) for row in await Survey.select(
        Survey.program, Survey.follow_up_days).where(
        Survey.program.is_in(ids) & Survey.follow_up_days.is_not_null()
        & ((Survey.made_by_rule == RULE) | Survey.status.is_in(["published", "closed"])))}
    return [(program, days) for program in programs if program["id"] in attended for days in plans.FOLLOW_UP_DAYS
            if (program["id"], days) not in taken
            and plans.follow_up_window(program["ends_at"], days, FOLLOW_UP.open_days)[1] > now]


async def _record_invitations() -> int:
    """A JourneyEvent for each invitation a survey of the rule has sent and that is not recorded yet. Only
    surveys still open are looked at: an invitation goes out when its survey opens, days before it closes."""
    sent = await SurveyInvitation.select(
        SurveyInvitation.account, SurveyInvitation.created_at, SurveyInvitation.survey.program.as_alias("program"),
        SurveyInvitation.survey.follow_up_days.as_alias("days"),
    ).where((SurveyInvitation.survey.made_by_rule == RULE) & (SurveyInvitation.survey.status == "published")
            & SurveyInvitation.survey.program.is_not_null())
    if not sent:
        return 0
    members = {row["account"]: row["id"] for row in await Member.select(Member.id, Member.account).where(
        Member.account.is_in(sorted({row["account"] for row in sent})))}
    causes = sorted({cause(row["program"], row["days"]) for row in sent})
    recorded = {(row["member"], row["cause"]) for row in await JourneyEvent.select(
        JourneyEvent.member, JourneyEvent.cause).where((JourneyEvent.rule == RULE) & JourneyEvent.cause.is_in(causes))}
    new = [JourneyEvent(rule=RULE, member=members[row["account"]], cause=cause(row["program"], row["days"]),
                        fired_at=row["created_at"]) for row in sent
           if row["account"] in members and (members[row["account"]], cause(row["program"], row["days"])) not in recorded]
    count = 0
    for batch in chunks(new):
        # Another round may record the same at this moment: the unique (rule, member, cause) keeps one.
        count += len(await JourneyEvent.insert(*batch).on_conflict(action="DO NOTHING").returning(JourneyEvent.id))
    return count


async def next_rung(fiscal_year: int) -> int:
    """Of the attendees the rule's surveys invited in the fiscal year, how many answered: each invitation once."""
    start, end = fiscal_year_bounds(fiscal_year)
    return await SurveyInvitation.count().where(
        (SurveyInvitation.survey.made_by_rule == RULE) & SurveyInvitation.responded_at.is_not_null()
        & (SurveyInvitation.created_at >= start) & (SurveyInvitation.created_at < end))
