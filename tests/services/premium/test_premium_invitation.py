"""Journey rule: the third counted activity invites the member to apply for premium — once a fiscal year, not
when premium holds or an application waits, however many rounds run at once."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from app.services.journeys import premium_invitation
from app.services.premium import applications
from db.tables import JourneyEvent, Member, Notification
from tests.services.premium.test_applications import HERE, NOW, TOKYO_HOME, with_activities


async def invitations_to(account_id: int) -> int:
    rows = await Notification.select(Notification.target).where(Notification.topic == "personal").output(load_json=True)
    return sum(1 for row in rows if row["target"]["accounts"] == [account_id])


async def test_the_third_activity_invites_once(scene):
    two = await with_activities(scene, 2, name="二回 花子")
    three = await with_activities(scene, 3, name="三回 太郎")
    results = await asyncio.gather(*(premium_invitation.run_due(NOW) for _ in range(3)))
    assert sum(results) == 1
    assert await invitations_to(three.account_id) == 1 and await invitations_to(two.account_id) == 0
    assert await premium_invitation.run_due(NOW + timedelta(days=30)) == 0  # the same fiscal year
    event = await JourneyEvent.select().where(JourneyEvent.rule == "premium_invitation").first()
    assert (event["member"], event["cause"]) == (three.member_id, "2026")


async def test_no_invitation_while_premium_holds_or_an_application_waits(scene):
    holding = await with_activities(scene, 3, name="登録中 次郎")
    await Member.update({Member.tier: "premium", Member.premium_until: date(2027, 6, 30)}).where(
        Member.id == holding.member_id)
    waiting = await with_activities(scene, 3, name="申請中 三郎")
    await applications.apply(waiting.member_id, TOKYO_HOME, HERE, NOW)
    assert await premium_invitation.run_due(NOW) == 0
    assert await Notification.count() == 0
