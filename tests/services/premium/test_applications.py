"""Premium applications: who may apply (three activities in twelve months, never the home municipality, at most
three municipalities, one waiting at a time, renewal from 60 days before the end), the secretariat's decision
(one of two at once), what the member is told, and the year at its end (reminders, lapse at midnight in Japan)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

import pytest

from app.i18n import TOKYO
from app.keyfile import new_signing_key
from app.services.activities import check_ins
from app.services.membership.membership import effective_tier
from app.services.premium import applications, lapse
from app.services.premium.applications import PremiumInvalid, PremiumRefused, PremiumRequest, Told
from app.services.shared.signed_tokens import TokenSigner
from app.settings import Smtp
from db.tables import AuditLog, JourneyEvent, Member, Notification, OutboxMail, PremiumApplication
from tests import factories

HERE = "苫小牧市"
NOW = datetime(2026, 12, 6, 10, 0, tzinfo=TOKYO)
TOKYO_HOME = PremiumRequest(home_municipality="東京都世田谷区")


async def with_activities(scene, count: int, name: str = "担い手 花子", email: str = ""):
    """A member with `count` counted activities (check-ins at different activities) in the last months."""
    member = await factories.member(name, email=email)
    signer = TokenSigner(new_signing_key())
    for n in range(count):
        day = date(2026, 9 + n % 3, 10 + n)
        activity = await factories.activity(scene.area, title=f"活動{n}", starts_on=day, ends_on=day)
        at = datetime.combine(day, datetime.min.time(), TOKYO) + timedelta(hours=10)
        await check_ins.with_code(signer, check_ins.code_for(signer, activity, day), member.member_id,
                                  f"nonce-{member.member_id}-{n}", None, at)
    return member


async def test_three_activities_let_a_member_apply_with_their_evidence(scene):
    member = await with_activities(scene, 3)
    checked = await applications.eligibility(member.member_id, NOW)
    assert checked.refusal == "" and len(checked.evidence) == 3 and not checked.renewal
    application_id = await applications.apply(member.member_id, TOKYO_HOME, HERE, NOW)
    row = await PremiumApplication.select().where(PremiumApplication.id == application_id).first().output(load_json=True)
    assert row["status"] == "submitted" and row["home_municipality"] == "東京都世田谷区"
    assert [item["title"] for item in row["evidence"]] == ["活動0", "活動1", "活動2"]
    assert {item["how"] for item in row["evidence"]} == {"code"}
    assert await AuditLog.count().where(AuditLog.action == "premium.apply") == 1


async def test_two_activities_are_not_enough(scene):
    member = await with_activities(scene, 2)
    with pytest.raises(PremiumRefused) as refused:
        await applications.apply(member.member_id, TOKYO_HOME, HERE, NOW)
    assert refused.value.reason == "not_enough" and "3" in refused.value.message


@pytest.mark.parametrize("home", ["苫小牧市", "苫小牧市 ", "苫 小 牧 市", "ｔｏｍａｋｏｍａｉ"])
async def test_the_home_municipality_is_refused_however_it_is_typed(scene, home):
    member = await with_activities(scene, 3)
    here = "tomakomai" if home.startswith("ｔ") else HERE
    with pytest.raises(PremiumRefused) as refused:
        await applications.apply(member.member_id, PremiumRequest(home_municipality=home), here, NOW)
    assert (refused.value.reason, refused.value.field) == ("home_here", "home_municipality")


def test_the_form_reads_the_others_and_refuses_what_cannot_be_sent():
    read = applications.read_request({"home_municipality": "横浜市", "other_name_1": "山口市", "other_state_1": "holding",
                                      "other_name_2": "萩市", "other_state_2": "applying", "other_name_3": ""})
    assert read.others == [{"name": "山口市", "state": "holding"}, {"name": "萩市", "state": "applying"}]
    with pytest.raises(PremiumInvalid) as invalid:
        applications.read_request({"home_municipality": "", "other_name_1": "山口市", "other_name_2": "山口市 ",
                                   "other_name_3": "x" * 51})
    assert set(invalid.value.errors) == {"home_municipality", "other_name_2", "other_name_3"}
    with pytest.raises(PremiumInvalid) as invalid:
        applications.read_request({"home_municipality": "横浜市", "other_name_1": "萩市", "other_state_1": "owner"})
    assert set(invalid.value.errors) == {"other_name_1"}


async def test_more_than_three_municipalities_are_refused(scene):
    member = await with_activities(scene, 3)
    request = PremiumRequest("東京都世田谷区", [{"name": "山口市", "state": "holding"}, {"name": "萩市", "state": "applying"},
                                         {"name": "長門市", "state": "applying"}])
    with pytest.raises(PremiumRefused) as refused:
        await applications.apply(member.member_id, request, HERE, NOW)
    assert refused.value.reason == "too_many"
    request.others.pop()
    assert await applications.apply(member.member_id, request, HERE, NOW)


async def test_one_application_waits_at_a_time_even_sent_twice_at_once(scene):
    member = await with_activities(scene, 3)
    results = await asyncio.gather(*(applications.apply(member.member_id, TOKYO_HOME, HERE, NOW) for _ in range(3)),
                                   return_exceptions=True)
    assert len([r for r in results if isinstance(r, int)]) == 1
    assert {r.reason for r in results if isinstance(r, PremiumRefused)} == {"waiting"}
    assert await PremiumApplication.count() == 1
    assert (await applications.eligibility(member.member_id, NOW)).refusal == "waiting"
    assert await applications.withdraw(member.member_id, NOW)
    assert (await applications.eligibility(member.member_id, NOW)).refusal == ""


async def test_approval_grants_a_year_with_a_certificate_and_tells_the_member_everywhere(scene):
    member = await with_activities(scene, 3, email="hanako@example.jp")
    application_id = await applications.apply(member.member_id, TOKYO_HOME, HERE, NOW)
    decided = await applications.decide(application_id, scene.staff, "approve", told=Told(Smtp(), "https://tsunagu.example"),
                                        now=NOW)
    assert decided["status"] == "approved" and decided["certificate_no"] == f"P2026-{application_id:06d}"
    assert (decided["valid_from"], decided["valid_until"]) == (date(2026, 12, 6), date(2027, 12, 5))
    row = await Member.select(Member.tier, Member.premium_until).where(Member.id == member.member_id).first()
    assert row == {"tier": "premium", "premium_until": date(2027, 12, 5)}
    told = await Notification.select().where(Notification.topic == "personal").first().output(load_json=True)
    assert told["target"]["accounts"] == [member.account_id] and "2027/12/05" in told["title"]
    mail = await OutboxMail.select().where(OutboxMail.to_address == "hanako@example.jp").first()
    assert mail is not None and "https://tsunagu.example/account/premium" in mail["body"]
    assert await AuditLog.count().where(AuditLog.action == "premium.approve") == 1


async def test_a_decline_needs_a_reason_and_only_staff_decide(scene):
    member = await with_activities(scene, 3)
    application_id = await applications.apply(member.member_id, TOKYO_HOME, HERE, NOW)
    for actor, decision, reason, refusal in ((scene.editor, "approve", "", "not_allowed"),
                                             (scene.staff, "decline", "  ", "reason_needed"),
                                             (scene.staff, "maybe", "", "not_allowed")):
        with pytest.raises(PremiumRefused) as refused:
            await applications.decide(application_id, actor, decision, reason, now=NOW)
        assert refused.value.reason == refusal
    with pytest.raises(PremiumRefused) as refused:
        await applications.decide(2**31, scene.staff, "approve", now=NOW)
    assert refused.value.reason == "not_found"
    decided = await applications.decide(application_id, scene.staff, "decline", "活動の記録が確認できませんでした", now=NOW)
    assert decided["status"] == "declined" and decided["reason"] == "活動の記録が確認できませんでした"
    assert (await Member.select(Member.tier).where(Member.id == member.member_id).first())["tier"] == "basic"


async def test_two_approvals_at_once_give_one(scene):
    member = await with_activities(scene, 3)
    application_id = await applications.apply(member.member_id, TOKYO_HOME, HERE, NOW)
    results = await asyncio.gather(*(applications.decide(application_id, scene.staff, "approve", now=NOW) for _ in range(3)),
                                   return_exceptions=True)
    assert len([r for r in results if isinstance(r, dict)]) == 1
    assert {r.reason for r in results if isinstance(r, PremiumRefused)} == {"changed_meanwhile"}
    assert await AuditLog.count().where(AuditLog.action == "premium.approve") == 1
    assert await Notification.count().where(Notification.topic == "personal") == 1


async def test_renewal_opens_60_days_before_the_end_and_counts_activities_since_the_approval(scene):
    member = await with_activities(scene, 3)
    first = await applications.apply(member.member_id, TOKYO_HOME, HERE, NOW)
    await applications.decide(first, scene.staff, "approve", now=NOW)
    until = (await Member.select(Member.premium_until).where(Member.id == member.member_id).first())["premium_until"]
    too_early = datetime.combine(until - timedelta(days=61), datetime.min.time(), TOKYO)
    assert (await applications.eligibility(member.member_id, too_early)).refusal == "already_premium"
    in_time = datetime.combine(until - timedelta(days=50), datetime.min.time(), TOKYO)
    checked = await applications.eligibility(member.member_id, in_time)
    assert checked.renewal and checked.refusal == "not_enough"  # the three were before the approval
    signer = TokenSigner(new_signing_key())
    for n in range(3):
        day = (in_time - timedelta(days=10 + n)).date()
        activity = await factories.activity(scene.area, title=f"更新用{n}", starts_on=day, ends_on=day)
        await check_ins.with_code(signer, check_ins.code_for(signer, activity, day), member.member_id, f"renewal-{n}", None,
                                  datetime.combine(day, datetime.min.time(), TOKYO) + timedelta(hours=9))
    renewal = await applications.apply(member.member_id, TOKYO_HOME, HERE, in_time)
    decided = await applications.decide(renewal, scene.staff, "approve", now=in_time)
    # Renewed before the end: the new year starts the day after the old one ends
    assert decided["renewal"] and decided["valid_from"] == until + timedelta(days=1)


async def premium_member(until: date, email: str = "") -> int:
    member = await factories.member("プレミアム 会員", email=email)
    await Member.update({Member.tier: "premium", Member.premium_until: until}).where(Member.id == member.member_id)
    return member.member_id


async def test_the_year_ends_at_midnight_in_japan_with_reminders_first_each_once(scene):
    until = date(2026, 12, 31)
    member_id = await premium_member(until)

    async def tier_at(moment: datetime) -> str:
        row = await Member.select(Member.tier, Member.premium_until).where(Member.id == member_id).first()
        return effective_tier(row, moment.astimezone(TOKYO).date())

    thirty = datetime(2026, 12, 1, 9, 0, tzinfo=TOKYO)
    assert (await lapse.run_due(now=thirty)).reminded == 1
    assert (await lapse.run_due(now=thirty + timedelta(days=1))).reminded == 0  # once
    seven = datetime(2026, 12, 24, 9, 0, tzinfo=TOKYO)
    results = await asyncio.gather(*(lapse.run_due(now=seven) for _ in range(3)))  # two workers' rounds at once
    assert sum(r.reminded for r in results) == 1
    last_minute = datetime(2026, 12, 31, 23, 59, 59, tzinfo=TOKYO)  # 14:59:59 UTC
    assert (await lapse.run_due(now=last_minute)).lapsed == 0 and await tier_at(last_minute) == "premium"
    midnight = datetime(2027, 1, 1, 0, 0, tzinfo=TOKYO)  # 2026-12-31 15:00 UTC
    assert await tier_at(midnight) == "basic"
    results = await asyncio.gather(*(lapse.run_due(now=midnight) for _ in range(3)))
    assert sum(r.lapsed for r in results) == 1
    assert (await Member.select(Member.tier).where(Member.id == member_id).first())["tier"] == "basic"
    assert sorted(e["rule"] for e in await JourneyEvent.select(JourneyEvent.rule)) == [
        "premium_ends_in_30", "premium_ends_in_7", "premium_lapsed"]
    assert await Notification.count().where(Notification.topic == "personal") == 3
    assert await AuditLog.count().where(AuditLog.action == "premium.lapse") == 1


async def test_a_member_first_seen_five_days_before_the_end_is_reminded_once(scene):
    await premium_member(date(2026, 12, 11))
    assert (await lapse.run_due(now=NOW)).reminded == 1
    assert [e["rule"] for e in await JourneyEvent.select(JourneyEvent.rule)] == ["premium_ends_in_7"]
    assert (await lapse.run_due(now=NOW)).reminded == 0


async def test_the_dashboard_counts_the_premium_ladder_of_the_year(scene):
    from app.services.dashboard.kpi import dashboard
    from app.services.journeys import premium_invitation

    first = await with_activities(scene, 3, name="一人目")
    await premium_invitation.run_due(NOW)
    granted = await applications.apply(first.member_id, TOKYO_HOME, HERE, NOW)
    await applications.decide(granted, scene.staff, "approve", now=NOW)
    second = await with_activities(scene, 3, name="二人目")
    await applications.apply(second.member_id, TOKYO_HOME, HERE, NOW)
    await premium_member(date(2026, 11, 30))
    await lapse.run_due(now=NOW)
    ladder = {step.key: step.count for step in (await dashboard(2026, None)).premium_ladder}
    assert ladder == {"eligible": 2, "invited": 1, "applied": 2, "approved": 1, "renewed": 0, "lapsed": 1}


async def test_the_dashboard_shows_each_journey_rule_with_how_often_it_fired(scene):
    from app.services.dashboard.kpi import dashboard
    from app.services.dashboard.tables import build_table
    from app.services.journeys import premium_invitation

    member = await with_activities(scene, 3, name="案内された人")
    await premium_invitation.run_due(NOW)
    await applications.apply(member.member_id, TOKYO_HOME, HERE, NOW + timedelta(days=1))
    figures = await dashboard(2026, None)
    rows = {row.rule: (row.fired, row.next_rung) for row in figures.journeys}
    assert rows["premium_invitation"] == (1, 1) and rows["warm_lead"] == (0, 0)
    table = build_table(figures, "journey_rules")
    assert len(table.rows) == 4
