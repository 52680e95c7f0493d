"""What the program pages read: the public list with its filters, one program as its page shows it (or as it
will be once a change waiting for review is approved), a member's applications, the programs an editor
manages and a program's applicants."""

from __future__ import annotations

import re
from datetime import datetime

from piccolo.query.functions.aggregate import Count

from app.i18n import TOKYO
from app.services.programs.programs import PUBLIC_STATUSES, REVISIONS, THEMES
from app.services.review import revisions
from app.services.shared import clock
from app.services.shared.actor import Actor
from app.services.shared.text import contains_pattern
from db.tables import Application, Program


async def public_programs(area_id: int | None = None, theme: str = "", month: str = "", open_only: bool = False,
                          past: bool = False, now: datetime | None = None, limit: int = 50) -> list[dict]:
    """Published programs for the public list, with the filters of the list page: those not yet over, soonest
    first; with `past`, those that have ended, latest first; a chosen month, all of its programs in order."""
    now = now or clock.now()
    query = Program.select(*Program.all_columns(), Program.area.name.as_alias("area_name")).where(
        Program.status.is_in(list(PUBLIC_STATUSES))
    )
    if area_id:
        query = query.where(Program.area == area_id)
    if open_only:
        query = query.where((Program.status == "published") & (Program.apply_from <= now) & (Program.apply_until >= now))
    bounds = month_bounds(month)
    if bounds:
        query = query.where((Program.starts_at >= bounds[0]) & (Program.starts_at < bounds[1]))
    elif past:
        query = query.where(Program.ends_at < now)
    else:
        query = query.where(Program.ends_at >= now)
    query = query.order_by(Program.starts_at, ascending=bool(bounds) or not past).order_by(Program.id)
    if theme not in THEMES:
        return await query.limit(limit).output(load_json=True)
    # Themes live in a JSON list: filter before the limit, or matches beyond the first `limit` rows are lost.
    rows = await query.output(load_json=True)
    return [r for r in rows if theme in r["themes"]][:limit]


def month_bounds(month: str) -> tuple[datetime, datetime] | None:
    """The first moment of a month written "2026-08" and of the next, in Tokyo; None for anything else."""
    if not re.fullmatch(r"\d{4}-\d{2}", month or ""):
        return None
    year, mon = int(month[:4]), int(month[5:])
    if not (1 <= mon <= 12 and 1 <= year < 9999):  # datetime() refuses year 0 and year 10000
        return None
    return datetime(year, mon, 1, tzinfo=TOKYO), datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=TOKYO)


async def programs_titled(term: str, limit: int) -> list[dict]:
    """Programs of any status whose title contains `term`, the latest start first (the console's search)."""
    return await Program.select(Program.id, Program.title, Program.status, Program.starts_at,
                                Program.area.name.as_alias("area_name")).where(
        Program.title.ilike(contains_pattern(term))).order_by(Program.starts_at, ascending=False).limit(limit)


def seats_left(program: dict) -> int:
    return max(0, program["capacity"] - program["seats_taken"])


async def program_page(program_id: int, any_status: bool = False) -> dict | None:
    """A program with its area's name, as its page shows it: public ones only, unless staff preview it."""
    query = Program.select(*Program.all_columns(), Program.area.name.as_alias("area_name")).where(Program.id == program_id)
    if not any_status:
        query = query.where(Program.status.is_in(list(PUBLIC_STATUSES)))
    return await query.first().output(load_json=True)


async def proposed_program(revision_id: int) -> dict | None:
    """The program as it will be once this change waiting for review is approved; None if it is no program's."""
    revision = await revisions.by_id(REVISIONS, revision_id)
    if revision is None:
        return None
    return revisions.merged(await revisions.item(REVISIONS, revision["item_id"]), revision)


async def application_of(program_id: int, member_id: int | None) -> dict | None:
    if member_id is None:
        return None
    return await Application.select().where(
        (Application.program == program_id) & (Application.member == member_id)
    ).first().output(load_json=True)


# A member's own page of applications: one statement written out once (the same text on SQLite and PostgreSQL);
# Piccolo building the same two joins cost ≈ 0.8 ms of CPU a page, this ≈ 0.1 ms.
MEMBER_APPLICATIONS_SQL = """
SELECT a.id, a.status, a.created_at, p.id AS program_id, p.title, p.kind, p.status AS program_status, p.starts_at,
       p.ends_at, ar.name AS area_name
FROM application AS a LEFT JOIN program AS p ON p.id = a.program LEFT JOIN area AS ar ON ar.id = p.area
WHERE a.member = {}
ORDER BY p.starts_at DESC
"""


async def member_applications(member_id: int | None) -> list[dict]:
    """A member's applications with their program, the latest program first (none without a member)."""
    if member_id is None:
        return []
    return await Application.raw(MEMBER_APPLICATIONS_SQL, member_id)


async def managed_programs(actor: Actor) -> list[dict]:
    """The programs this actor manages, the latest start first: an editor their area's (none without an
    area), the secretariat every one."""
    query = Program.select(
        Program.id, Program.title, Program.kind, Program.status, Program.status_reason, Program.starts_at,
        Program.ends_at, Program.capacity, Program.seats_taken, Program.area.name.as_alias("area_name"),
    )
    if actor.role == "editor":
        query = query.where(Program.area == actor.area_id) if actor.area_id else query.where(Program.id < 0)
    return await query.order_by(Program.starts_at, ascending=False)


# How the applicants can be ordered: the order they came (the fair one for a waiting list), the newest first, or
# by member number (to find someone on a printed list).
APPLICANT_ORDERS = {
    "applied": ((Application.created_at, True), (Application.id, True)),
    "newest": ((Application.created_at, False), (Application.id, False)),
    "number": ((Application.member.member_no, True), (Application.id, True)),
}


async def applicants(program_id: int, status: str = "", order: str = "applied", limit: int | None = None,
                     offset: int = 0) -> list[dict]:
    """A program's applications with the applicant's member number and names, in `order` (the order they came
    unless said); `status` narrows them to one status, `limit` from `offset` to one page."""
    query = Application.select(
        Application.id, Application.status, Application.motivation, Application.answers, Application.created_at,
        Application.attended_at, Application.member.member_no.as_alias("member_no"),
        Application.member.family_name.as_alias("family_name"), Application.member.given_name.as_alias("given_name"),
        Application.member.account.display_name.as_alias("display_name"),
    ).where(Application.program == program_id)
    if status:
        query = query.where(Application.status == status)
    for column, ascending in APPLICANT_ORDERS.get(order, APPLICANT_ORDERS["applied"]):
        query = query.order_by(column, ascending=ascending)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return await query.output(load_json=True)


async def applicant_counts(program_id: int) -> dict[str, int]:
    """How many of a program's applications are in each status (only the statuses it has)."""
    rows = await Application.select(Application.status, Count()).where(Application.program == program_id).group_by(
        Application.status)
    return {row["status"]: row["count"] for row in rows}


async def program_of_application(application_id: int) -> int | None:
    """The id of the program an application is for; None when there is no such application."""
    row = await Application.select(Application.program).where(Application.id == application_id).first()
    return row["program"] if row else None
