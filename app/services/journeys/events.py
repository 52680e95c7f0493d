"""A step of a member's journey that must happen once (a reminder, a rule firing): claimed by inserting its
JourneyEvent row first, so a round run twice, or by two workers at once, acts once."""

from __future__ import annotations

from datetime import datetime

from db.tables import JourneyEvent


async def once(rule: str, member_id: int, cause: str, now: datetime) -> bool:
    """Claim the step for this member and cause; False when it was taken before. Call it inside the transaction
    that does the step, so a step that fails is not marked done."""
    rows = await JourneyEvent.insert(JourneyEvent(rule=rule, member=member_id, cause=cause, fired_at=now)).on_conflict(
        action="DO NOTHING").returning(JourneyEvent.id)
    return bool(rows)
