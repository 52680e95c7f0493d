"""Journey rule: a member who answers the intent-to-move question with anything but its last option ("not
considering it", as the dashboard counts it) becomes a warm lead — an inquiry opened at the desk with their
answers, assigned to the person the secretariat chose for the year. The member is not mailed (they asked
nothing); the assignee is told. Once per response."""

from __future__ import annotations

from datetime import datetime

from app.i18n import gettext as _
from app.services.desk import asking
from app.services.desk.validation import InquiryValues
from app.services.journeys import rules
from app.services.journeys.events import once
from app.services.notify import notices
from app.services.programs.activities import fiscal_year_bounds, fiscal_year_of
from app.services.shared import clock
from app.services.surveys.results import response_lines
from db.engine import atomic
from db.tables import Inquiry, JourneyEvent, Member, SurveyAnswer

RULE = "warm_lead"
INTENT_KEY = "intent_to_move"
STAFF_PATH = "/staff/inquiries/{id}"


async def _leads(since: datetime) -> list[dict]:
    """Responses to named surveys since `since` whose intent-to-move answer is not the last option."""
    rows = await SurveyAnswer.select(
        SurveyAnswer.choice, SurveyAnswer.question.options.as_alias("options"),
        SurveyAnswer.response.id.as_alias("response"), SurveyAnswer.response.account.as_alias("account"),
        SurveyAnswer.response.survey.title.as_alias("survey"),
    ).where((SurveyAnswer.question.key == INTENT_KEY) & SurveyAnswer.response.account.is_not_null()
            # An anonymous survey keeps who answered only to take one answer each: never a lead
            & (SurveyAnswer.response.survey.anonymous == False)  # noqa: E712
            & (SurveyAnswer.response.submitted_at >= since)).output(load_json=True)
    return [row for row in rows if row["choice"] is not None and 0 <= row["choice"] < len(row["options"]) - 1]


async def run_due(now: datetime | None = None) -> int:
    """Open the leads due now, if the rule is on this fiscal year with someone to take them; returns how many."""
    now = now or clock.now()
    setting = await rules.setting(RULE, now)
    if not setting.enabled or setting.assignee is None:
        return 0
    opened = 0
    for lead in await _leads(fiscal_year_bounds(fiscal_year_of(now))[0]):
        person = await Member.select(Member.id, Member.account.display_name.as_alias("name"),
                                     Member.account.email.as_alias("email"),
                                     Member.account.status.as_alias("status")).where(
            Member.account == lead["account"]).first()
        if person is None or person["status"] != "active":
            continue
        # The step, the inquiry and the notice in one transaction: a lead half-opened is not marked done
        async with atomic(Inquiry._meta.db):
            if not await once(RULE, person["id"], f"response:{lead['response']}", now):
                continue
            message = "\n".join([_("Answers to the survey \"%(survey)s\":", survey=lead["survey"]),
                                 *await response_lines(lead["response"])])
            created = await asking.create_inquiry(InquiryValues(
                name=person["name"], email=person["email"] or "", contact_method="app", category="migration",
                message=message, channel="survey"), None, account_id=lead["account"], recorded_by=setting.assignee,
                now=now, receipt=False)
            await notices.notify(setting.assignee, _("Warm lead %(reference)s: %(name)s", reference=created["reference"],
                                                     name=person["name"]),
                                 _("They answered that they think of moving or dual residence."),
                                 STAFF_PATH.format(id=created["id"]), now)
        opened += 1
    return opened


async def next_rung(fiscal_year: int) -> int:
    """Leads of the year the desk has answered or closed."""
    start, end = fiscal_year_bounds(fiscal_year)
    events = await JourneyEvent.select(JourneyEvent.member.account.as_alias("account")).where(
        (JourneyEvent.rule == RULE) & (JourneyEvent.fired_at >= start) & (JourneyEvent.fired_at < end))
    accounts = sorted({row["account"] for row in events})
    if not accounts:
        return 0
    answered = await Inquiry.select(Inquiry.account).where(
        Inquiry.account.is_in(accounts) & (Inquiry.created_at >= start) & Inquiry.status.is_in(["waiting", "closed"]))
    return len({row["account"] for row in answered})
