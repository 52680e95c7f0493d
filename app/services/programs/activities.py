"""Attendance at a program's venue, and the fiscal year (April to March, Tokyo) activities are counted in. A
program attended is a local activity (担い手活動) like a designated one: activities/progress.py counts both."""

from __future__ import annotations

from datetime import date, datetime, time

from app.i18n import TOKYO, to_tokyo
from app.services.programs.applications import ApplicationRefused, decide
from app.services.shared.actor import Actor
from db.tables import Application


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
