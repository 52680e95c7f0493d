"""Journey rule: the member whose third counted activity in twelve months has been recorded is invited to
apply for premium, once a fiscal year — unless premium holds already or an application is waiting. Run by the
background round, so an activity recorded offline and synced days later still invites."""

from __future__ import annotations

from datetime import datetime

from app.i18n import gettext as _
from app.i18n import to_tokyo
from app.services.activities import progress
from app.services.journeys import rules
from app.services.journeys.events import fired_in, once
from app.services.membership.membership import in_locale_of
from app.services.notify import personal
from app.services.premium.applications import MEMBER_URL
from app.services.programs.activities import fiscal_year_bounds, fiscal_year_of
from app.services.shared import clock
from db.engine import atomic
from db.tables import Member, PremiumApplication

RULE = "premium_invitation"


async def run_due(now: datetime | None = None) -> int:
    """Invite who is due now, if the rule is on this fiscal year; returns how many were invited."""
    now = now or clock.now()
    if not (await rules.setting(RULE, now)).enabled:
        return 0
    since, today = now - progress.YEAR, to_tokyo(now).date()
    counted = {member_id: count for member_id, count in (await progress.counts(since, now)).items()
               if count >= progress.PREMIUM_ACTIVITIES}
    if not counted:
        return 0
    premium = {row["id"] for row in await Member.select(Member.id).where(
        Member.id.is_in(sorted(counted)) & (Member.tier == "premium") & (Member.premium_until >= today))}
    waiting = {row["member"] for row in await PremiumApplication.select(PremiumApplication.member).where(
        PremiumApplication.member.is_in(sorted(counted)) & (PremiumApplication.status == "submitted"))}
    due = sorted(set(counted) - premium - waiting)
    accounts = {row["id"]: row["account"] for row in await Member.select(Member.id, Member.account).where(
        Member.id.is_in(due or [0]))}
    invited = 0
    year = str(fiscal_year_of(now))
    for member_id in due:
        async with atomic(Member._meta.db):
            if not await once(RULE, member_id, year, now):
                continue
            async with in_locale_of(accounts[member_id]):
                title = _("You can apply for premium")
                body = _("You have taken part in %(count)d local activities in twelve months. Apply for the premium "
                         "tier of the furusato resident registration.", count=counted[member_id])
            await personal.tell(accounts[member_id], title, body, MEMBER_URL, now=now)
        invited += 1
    return invited


async def next_rung(fiscal_year: int) -> int:
    """Members invited in the year who applied for premium after their invitation."""
    start, end = fiscal_year_bounds(fiscal_year)
    invited = await fired_in(RULE, start, end)
    if not invited:
        return 0
    applied = await PremiumApplication.select(PremiumApplication.member, PremiumApplication.created_at).where(
        PremiumApplication.member.is_in(sorted(invited)))
    return len({row["member"] for row in applied if row["created_at"] >= invited[row["member"]]})
