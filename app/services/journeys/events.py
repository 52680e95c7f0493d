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


async def fired_in(rule: str, start: datetime, end: datetime) -> dict[int, datetime]:
    """The members a rule fired for in [start, end), each with the first time it did: what a next rung is
    measured from."""
    fired: dict[int, datetime] = {}
    for row in await JourneyEvent.select(JourneyEvent.member, JourneyEvent.fired_at).where(
            (JourneyEvent.rule == rule) & (JourneyEvent.fired_at >= start) & (JourneyEvent.fired_at < end)):
        if row["member"] not in fired or row["fired_at"] < fired[row["member"]]:
            fired[row["member"]] = row["fired_at"]
    return fired
