"""Attendance at the venue and local activities (担い手活動): a program attended counts for the member in its
fiscal year (April to March, Tokyo), and members with enough of them are the evidence for the premium tier."""

from __future__ import annotations

from datetime import date, datetime, time

from app.i18n import TOKYO, to_tokyo
from app.services.programs.applications import ApplicationRefused, decide
from app.services.shared.actor import Actor
from db.tables import Application, Member

PREMIUM_ACTIVITIES = 3


async def attend_by_member(program_id: int, member_id: int, actor: Actor, now: datetime) -> str:
    """Attendance by scanning the member card at the venue: the member's application is found and marked."""
    application = await Application.select(
        Application.id, Application.status, Application.program.area.as_alias("area")
    ).where((Application.program == program_id) & (Application.member == member_id)).first()
    if application is None:
        raise ApplicationRefused("not_applied")
    if actor.outside_area(application["area"]):
        raise ApplicationRefused("not_your_area")  # also for a second scan: another area's editor learns nothing
    if application["status"] == "attended":
        return "attended"
    await decide(application["id"], actor, "attend", now)
    return "attended"


def fiscal_year_of(moment: datetime) -> int:
    """April to March, in Tokyo: 2027-03-31 belongs to fiscal year 2026, 2027-04-01 to 2027."""
    local = to_tokyo(moment)
    return local.year if local.month >= 4 else local.year - 1


def fiscal_year_bounds(year: int) -> tuple[datetime, datetime]:
    return (datetime.combine(date(year, 4, 1), time(), TOKYO), datetime.combine(date(year + 1, 4, 1), time(), TOKYO))


async def activity_count(member_id: int, year: int) -> int:
    """Local activities (担い手活動) this fiscal year: programs the member attended."""
    start, end = fiscal_year_bounds(year)
    return await Application.count().where(
        (Application.member == member_id) & (Application.status == "attended")
        & (Application.attended_at >= start) & (Application.attended_at < end)
    )


async def active_members(year: int, minimum: int = PREMIUM_ACTIVITIES) -> list[dict]:
    """Members with at least `minimum` activities in the fiscal year: evidence for the premium tier."""
    start, end = fiscal_year_bounds(year)
    rows = await Application.select(Application.member).where(
        (Application.status == "attended") & (Application.attended_at >= start) & (Application.attended_at < end)
    )
    counts: dict[int, int] = {}
    for row in rows:
        counts[row["member"]] = counts.get(row["member"], 0) + 1
    wanted = [member_id for member_id, count in counts.items() if count >= minimum]
    if not wanted:
        return []
    members = await Member.select(Member.id, Member.member_no, Member.tier, Member.account.display_name).where(
        Member.id.is_in(wanted)
    )
    return sorted(({**m, "activities": counts[m["id"]]} for m in members), key=lambda m: (-m["activities"], m["member_no"]))
