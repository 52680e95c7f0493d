"""Journey rules: standing rules the secretariat sets per fiscal year, run by the background round, each firing
once per member and cause (journeys/events.py). What no single-purpose system can do, because Tsunagu holds the
whole loop: programs, surveys, the desk, activities, premium and the shops.

1. follow_up_survey — after every completed program its attendees get the follow-up survey (1 week, 3 months,
   1 year), with no survey to build per program.
2. warm_lead — an answer to the intent-to-move question other than "not considering it" opens a desk inquiry
   assigned to the person staff choose, with the answers attached.
3. premium_invitation — the third counted activity in twelve months invites the member to apply for premium.
4. first_use_programs — a member's first offer use suggests the upcoming programs in that shop's area.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.services.programs.activities import fiscal_year_bounds, fiscal_year_of
from app.services.shared import clock
from app.services.shared.refusals import Refusal
from db.engine import atomic
from db.tables import Account, AuditLog, JourneyEvent, JourneyRule

RULES = ("follow_up_survey", "warm_lead", "premium_invitation", "first_use_programs")
LABELS = {
    "follow_up_survey": _l("Follow-up survey after every program"),
    "warm_lead": _l("A stated intent to move opens a desk inquiry"),
    "premium_invitation": _l("The third activity invites to apply for premium"),
    "first_use_programs": _l("A first offer use suggests programs nearby"),
}
DESCRIPTIONS = {
    "follow_up_survey": _l("When a program is completed, its attendees get the follow-up survey one week, three "
                           "months and one year later. No survey needs to be built for each program."),
    "warm_lead": _l("When a member answers the intent-to-move question with anything but \"not considering it\", "
                    "an inquiry with their answers is opened at the desk and assigned to the person you choose."),
    "premium_invitation": _l("A member whose third counted activity in twelve months is recorded is invited, once "
                             "a year, to apply for the premium tier."),
    "first_use_programs": _l("A member who uses an offer for the first time is told of the upcoming programs in "
                             "that shop's area (inbox, and push if they allow it)."),
}
# Without a setting for the year: the rules that need nothing more run; a warm lead needs someone to take it.
ON_BY_DEFAULT = {"follow_up_survey": True, "warm_lead": False, "premium_invitation": True, "first_use_programs": True}


class RuleRefused(Refusal):
    """unknown_rule | assignee_needed | bad_assignee"""

    def messages(self):
        return {
            "unknown_rule": _("There is no such rule."),
            "assignee_needed": _("Choose who takes the warm leads before turning this rule on."),
            "bad_assignee": _("Choose a member of the secretariat."),
        }


@dataclass(frozen=True)
class Setting:
    rule: str
    enabled: bool
    assignee: int | None


async def settings_for(fiscal_year: int) -> dict[str, Setting]:
    rows = {row["rule"]: row for row in await JourneyRule.select().where(JourneyRule.fiscal_year == fiscal_year)}
    return {rule: Setting(rule, rows[rule]["enabled"], rows[rule]["assignee"]) if rule in rows
            else Setting(rule, ON_BY_DEFAULT[rule], None) for rule in RULES}


async def setting(rule: str, now: datetime | None = None) -> Setting:
    """The rule as set for the fiscal year of `now`."""
    return (await settings_for(fiscal_year_of(now or clock.now())))[rule]


async def save(fiscal_year: int, rule: str, enabled: bool, assignee: int | None, actor_id: int,
               now: datetime | None = None) -> None:
    """Set a rule for a year; audited. Raises RuleRefused."""
    now = now or clock.now()
    if rule not in RULES:
        raise RuleRefused("unknown_rule")
    if assignee is not None and not await Account.exists().where(
            (Account.id == assignee) & (Account.role == "staff") & (Account.status == "active")):
        raise RuleRefused("bad_assignee", field="assignee")
    if rule == "warm_lead" and enabled and assignee is None:
        raise RuleRefused("assignee_needed", field="assignee")
    async with atomic(JourneyRule._meta.db):
        await JourneyRule.insert(JourneyRule(fiscal_year=fiscal_year, rule=rule, enabled=enabled, assignee=assignee,
                                             updated_by=actor_id, updated_at=now)).on_conflict(
            target=(JourneyRule.fiscal_year, JourneyRule.rule), action="DO UPDATE",
            values=[JourneyRule.enabled, JourneyRule.assignee, JourneyRule.updated_by, JourneyRule.updated_at])
        await AuditLog.insert(AuditLog(actor=actor_id, action="journey.rule", target_type="journey_rule",
                                       target_id=f"{fiscal_year}:{rule}",
                                       detail={"enabled": enabled, "assignee": assignee}, created_at=now))


async def fired(fiscal_year: int) -> dict[str, int]:
    """How often each rule fired in the year (a rule firing for one member and cause counts once)."""
    start, end = fiscal_year_bounds(fiscal_year)
    rows = await JourneyEvent.select(JourneyEvent.rule).where(
        JourneyEvent.rule.is_in(list(RULES)) & (JourneyEvent.fired_at >= start) & (JourneyEvent.fired_at < end))
    counts = dict.fromkeys(RULES, 0)
    for row in rows:
        counts[row["rule"]] += 1
    return counts
