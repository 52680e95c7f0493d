"""The journey rules' part of the background round: each rule that is on this fiscal year, in turn; each step
once per member and cause. Returns how often each fired."""

from __future__ import annotations

from datetime import datetime

from app.services.journeys import first_use_programs, premium_invitation
from app.services.shared import clock


async def run_due(now: datetime | None = None) -> dict[str, int]:
    now = now or clock.now()
    return {
        "premium_invitation": await premium_invitation.run_due(now),
        "first_use_programs": await first_use_programs.run_due(now),
    }
