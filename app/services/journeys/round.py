"""The journey rules' part of the background round: each rule that is on this fiscal year, in turn; each step
once per member and cause. And, per rule and fiscal year, how often it fired and how many went on to the
next rung (the secretariat's journey page)."""

from __future__ import annotations

from datetime import datetime

from app.services.journeys import first_use_programs, follow_up_survey, premium_invitation, rules, warm_lead
from app.services.shared import clock

# The next rung of each rule: what the member did after it fired
NEXT_RUNGS = {"follow_up_survey": follow_up_survey.next_rung, "warm_lead": warm_lead.next_rung,
              "premium_invitation": premium_invitation.next_rung, "first_use_programs": first_use_programs.next_rung}


async def run_due(now: datetime | None = None) -> dict[str, int]:
    now = now or clock.now()
    return {
        # Surveys made; what they send is the survey round's, right after this.
        "follow_up_survey": await follow_up_survey.run_due(now),
        "warm_lead": await warm_lead.run_due(now),
        "premium_invitation": await premium_invitation.run_due(now),
        "first_use_programs": await first_use_programs.run_due(now),
    }


async def figures(fiscal_year: int) -> dict[str, tuple[int, int | None]]:
    """(fired, went on to the next rung) per rule in the year; None where the rule has no next rung yet."""
    fired = await rules.fired(fiscal_year)
    return {rule: (fired[rule], await NEXT_RUNGS[rule](fiscal_year) if rule in NEXT_RUNGS else None)
            for rule in rules.RULES}
