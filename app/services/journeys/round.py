"""The journey rules' part of the background round: each rule that is on this fiscal year, in turn; each step
once per member and cause. Returns how often each fired."""

from __future__ import annotations

from datetime import datetime

from app.services.journeys import follow_up_survey, premium_invitation
from app.services.shared import clock


async def run_due(now: datetime | None = None) -> dict[str, int]:
    now = now or clock.now()
    return {
        # Surveys made; what they send is the survey round's, right after this.
        "follow_up_survey": await follow_up_survey.run_due(now),
        "premium_invitation": await premium_invitation.run_due(now),
    }
