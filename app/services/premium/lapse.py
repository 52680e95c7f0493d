"""The premium year's end, run by the background round: reminders 30 and 7 days before, and at the end the
member returns to basic by themselves and is told. Each step happens once per member and premium end
(journeys/events.py), whichever process runs the round and however often."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.i18n import gettext as _
from app.i18n import to_tokyo
from app.services.journeys.events import once
from app.services.membership.membership import in_locale_of
from app.services.notify import personal
from app.services.notify.personal import INBOX_AND_PUSH_ONLY, Told
from app.services.premium.applications import MEMBER_URL
from app.services.shared import clock
from db.engine import atomic
from db.tables import AuditLog, Member

REMINDER_DAYS = (30, 7)
LAPSED = "premium_lapsed"


@dataclass
class Ended:
    reminded: int = 0
    lapsed: int = 0


async def run_due(told: Told = INBOX_AND_PUSH_ONLY, now: datetime | None = None) -> Ended:
    now = now or clock.now()
    today = to_tokyo(now).date()
    ended = Ended()
    soon = await Member.select(Member.id, Member.premium_until, Member.account, Member.account.email.as_alias("email")).where(
        (Member.tier == "premium") & Member.premium_until.is_not_null()
        & (Member.premium_until <= today + timedelta(days=max(REMINDER_DAYS))))
    for member in soon:
        until = member["premium_until"]
        if until < today:
            ended.lapsed += await _lapse(member, told, now)
            continue
        # The nearest reminder only: a member first seen 5 days before the end hears once, not twice
        days = min(d for d in REMINDER_DAYS if (until - today).days <= d)
        async with atomic(Member._meta.db):
            if not await once(f"premium_ends_in_{days}", member["id"], until.isoformat(), now):
                continue
            async with in_locale_of(member["account"]):
                title = _("Premium ends on %(until)s", until=f"{until:%Y/%m/%d}")
                body = _("To keep it, apply to renew with your activities of this year.")
            await personal.tell(member["account"], title, body, MEMBER_URL, smtp=told.smtp, email=member["email"] or "",
                                base_url=told.base_url, purpose="premium_reminder", now=now)
        ended.reminded += 1
    return ended


async def _lapse(member: dict, told: Told, now: datetime) -> int:
    until = member["premium_until"]
    async with atomic(Member._meta.db):
        if not await once(LAPSED, member["id"], until.isoformat(), now):
            return 0
        moved = await Member.update({Member.tier: "basic"}).where(
            (Member.id == member["id"]) & (Member.tier == "premium") & (Member.premium_until == until)).returning(Member.id)
        if not moved:  # renewed meanwhile
            return 0
        await AuditLog.insert(AuditLog(actor=None, action="premium.lapse", target_type="member",
                                       target_id=str(member["id"]), detail={"until": until.isoformat()}, created_at=now))
        async with in_locale_of(member["account"]):
            title = _("Your premium has ended")
            body = _("You are a basic member again. Apply once you have three activities in twelve months.")
        await personal.tell(member["account"], title, body, MEMBER_URL, smtp=told.smtp, email=member["email"] or "",
                            base_url=told.base_url, purpose="premium_lapse", now=now)
    return 1
