"""Journey rule: a member's first offer use ever, at a shop that belongs to an area, suggests the upcoming programs
of that area (inbox, and push on the devices the member subscribed). Once per member; run by the background round.

The step is marked only when there is something to suggest: a first use in an area with no upcoming program is
looked at again by later rounds, and fires if a program is published there while the use is still recent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.i18n import format_date
from app.i18n import gettext as _
from app.services.journeys import rules
from app.services.journeys.events import fired_in, once
from app.services.membership.membership import in_locale_of
from app.services.notify import personal
from app.services.programs.activities import fiscal_year_bounds
from app.services.shared import clock
from app.services.wallet.redemption import UNDO_WINDOW
from db.engine import atomic
from db.tables import Application, JourneyEvent, Member, Program, Redemption

RULE = "first_use_programs"
CAUSE = "first"  # one suggestion per member, ever: there is only one first use
# A suggestion is worth sending while the visit is fresh. Two weeks also keeps the rule from telling members about
# uses from long ago when it is switched on for the first time (or again after a year off), and gives a program
# published a few days after the visit the chance to be suggested.
RECENT = timedelta(days=14)
SUGGESTED = 3
LIST_URL = "/programs"  # the public list; ?area=<id> filters it to one area


async def _first_uses(since: datetime, until: datetime) -> list[dict]:
    """Each member's first use ever (undone ones do not count), if it was between `since` and `until`:
    {member, account, shop_name, area, area_name}, the shop's area possibly None."""
    counted = Redemption.undone_at.is_null()
    recent = await Redemption.select(
        Redemption.wallet_pass.member.as_alias("member"), Redemption.wallet_pass.member.account.as_alias("account"),
        Redemption.shop.name.as_alias("shop_name"), Redemption.shop.area.as_alias("area"),
        Redemption.shop.area.name.as_alias("area_name"),
    ).where(
        counted & (Redemption.redeemed_at >= since) & (Redemption.redeemed_at <= until)
        & (Redemption.wallet_pass.member.account.status == "active")
    ).order_by(Redemption.redeemed_at).order_by(Redemption.id)
    if not recent:
        return []
    earlier = {row["member"] for row in await Redemption.select(
        Redemption.wallet_pass.member.as_alias("member")).where(
        counted & (Redemption.redeemed_at < since)
        & Redemption.wallet_pass.member.is_in(sorted({row["member"] for row in recent})))}
    firsts: dict[int, dict] = {}
    for row in recent:
        if row["member"] not in earlier:
            firsts.setdefault(row["member"], row)
    return list(firsts.values())


async def upcoming_programs(area_id: int, now: datetime) -> list[dict]:
    """The area's published programs that start after `now` and can still be applied for (now or later),
    soonest first, at most SUGGESTED."""
    return await Program.select(Program.id, Program.title, Program.starts_at).where(
        (Program.area == area_id) & (Program.status == "published") & (Program.starts_at > now)
        & (Program.apply_until >= now)
    ).order_by(Program.starts_at).order_by(Program.id).limit(SUGGESTED)


def suggestion(intro: str, programs: list[dict]) -> str:
    """The intro and a line per program, within what a notification keeps: long titles are shortened so every
    program keeps its date, rather than the last line being cut off."""
    room = (personal.BODY_MAX - len(intro)) // len(programs) - 1  # each line with the newline before it
    lines = []
    for program in programs:
        date = format_date(program["starts_at"])
        title = program["title"]
        spare = room - len(_("• %(title)s (%(date)s)", title="", date=date))
        if len(title) > spare:
            title = title[:max(spare - 1, 1)] + "…"
        lines.append(_("• %(title)s (%(date)s)", title=title, date=date))
    return "\n".join([intro, *lines])


async def run_due(now: datetime | None = None) -> int:
    """Suggest programs to who is due now, if the rule is on this fiscal year; returns how many were told."""
    now = now or clock.now()
    if not (await rules.setting(RULE, now)).enabled:
        return 0
    # A use can still be undone for a few minutes at the counter (a mistaken tap): wait until it stands.
    firsts = [row for row in await _first_uses(now - RECENT, now - UNDO_WINDOW) if row["area"] is not None]
    # Who was told already is skipped before any write (once() alone would say so too, but each round would
    # open a write transaction per member for two weeks).
    told_before = {row["member"] for row in await JourneyEvent.select(JourneyEvent.member).where(
        (JourneyEvent.rule == RULE) & JourneyEvent.member.is_in([row["member"] for row in firsts] or [0]))}
    firsts = [row for row in firsts if row["member"] not in told_before]
    told = 0
    programs_of: dict[int, list[dict]] = {}
    for first in firsts:
        area_id = first["area"]
        if area_id not in programs_of:
            programs_of[area_id] = await upcoming_programs(area_id, now)
        programs = programs_of[area_id]
        if not programs:
            continue  # not marked: a program published there within the window can still be suggested
        async with atomic(Member._meta.db):
            if not await once(RULE, first["member"], CAUSE, now):
                continue
            async with in_locale_of(first["account"]):
                intro = _("Thank you for using your entry pass at %(shop)s. Coming up in %(area)s:",
                          shop=first["shop_name"], area=first["area_name"])
                title, body = _("Programs in %(area)s", area=first["area_name"]), suggestion(intro, programs)
            await personal.tell(first["account"], title, body, f"{LIST_URL}?area={area_id}", now=now)
        told += 1
    return told


async def next_rung(fiscal_year: int) -> int:
    """Members this rule told in the fiscal year who applied to a program afterwards: whether it works."""
    start, end = fiscal_year_bounds(fiscal_year)
    told = await fired_in(RULE, start, end)
    if not told:
        return 0
    applied = await Application.select(Application.member, Application.created_at).where(
        Application.member.is_in(sorted(told)) & (Application.created_at >= min(told.values())))
    return len({row["member"] for row in applied if row["created_at"] > told[row["member"]]})
