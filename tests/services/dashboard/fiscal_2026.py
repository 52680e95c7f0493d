"""The fixed data set the dashboard tests check figures against, with values worked out by hand.

The data set straddles both ends of fiscal year 2026 (2026-04-01 to 2027-03-31, Asia/Tokyo). Rows are
stored in UTC; Tokyo is UTC+9, so 2026-03-31 15:00 UTC is already April 1 in Tokyo (fiscal 2026) and
2027-03-31 14:59:59 UTC is still March 31 (fiscal 2026), while 2027-03-31 15:00 UTC is fiscal 2027.

People (home prefecture; ties; areas followed; registered, Tokyo time):
  m1 花子  13 Tokyo;  workation, furusato tax;  A;     2026-03-31 23:59:59  → fiscal 2025
  m2 太郎  27 Osaka;  migration;                A;     2026-04-01 00:00:00  → fiscal 2026, week 0
  m3 次郎  13 Tokyo;  none;                     B;     2026-04-08 00:00     → week 1
  m6 六子  14;        dual residence, migration; —;    2026-06-10 10:00     → week 10; account deleted since
  m4 三郎  —;         family;                   A, B;  2027-03-31 23:59     → week 52 (the one-day week)
  m5 四郎  01;        former resident;          —;     2027-04-01 00:00     → fiscal 2027
"""

from datetime import date, datetime, timedelta, timezone

from app.services.membership import erasure
from app.services.shared import clock
from db.tables import (
    Application,
    Delivery,
    KpiTarget,
    Member,
    Notification,
    Offer,
    Pass,
    PushSubscription,
    Redemption,
    Shop,
    Survey,
    SurveyAnswer,
    SurveyInvitation,
    SurveyQuestion,
    SurveyResponse,
    WalletPass,
)
from tests import factories


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def tokyo(*args) -> datetime:
    return utc(*args) - timedelta(hours=9)


async def row(table, **values) -> int:
    item = table(**values)
    await item.save()
    return item.id


AFTER_THE_YEAR = utc(2027, 6, 1, 3, 0)  # fiscal 2026 is over: every week of it is counted


async def member(name: str, registered: datetime, prefecture: str, ties: list[str], areas=()) -> dict:
    registered_member = await factories.member(name, home_prefecture=prefecture, ties=ties, area_ids=list(areas))
    await Member.update({Member.created_at: registered}).where(Member.id == registered_member.member_id)
    return {"id": registered_member.member_id, "account": registered_member.account_id}


async def load() -> dict:
    """Fiscal 2026 as described above; the clock must already be after the year (`AFTER_THE_YEAR`)."""
    a = await factories.area("勇払", "yufutsu")
    b = await factories.area("樽前", "tarumae")
    m1 = await member("花子", utc(2026, 3, 31, 14, 59, 59), "13", ["workation", "furusato_tax"], [a])
    m2 = await member("太郎", utc(2026, 3, 31, 15, 0), "27", ["migration"], [a])
    m3 = await member("次郎", tokyo(2026, 4, 8, 0, 0), "13", [], [b])
    m4 = await member("三郎", tokyo(2027, 3, 31, 23, 59), "", ["family"], [a, b])
    m5 = await member("四郎", utc(2027, 3, 31, 15, 0), "01", ["former_resident"])
    m6 = await member("六子", tokyo(2026, 6, 10, 10, 0), "14", ["dual_residence", "migration"])
    await erasure.delete_account(m6["account"])
    # Premium until the last day of the year: still premium on March 31.
    await Member.update({Member.tier: "premium", Member.premium_until: date(2027, 3, 31)}).where(Member.id == m3["id"])
    await Member.update({Member.tier: "premium", Member.premium_until: date(2027, 3, 31)}).where(Member.id == m2["id"])

    # Targets of fiscal 2026, and one of fiscal 2025 that must not leak into it.
    for metric, area_id, value in [("registrations", 0, 8), ("participants", a, 10), ("participants", b, 4),
                                   ("activations", 0, 6), ("redemptions", 0, 7), ("response_rate", 0, 60)]:
        await row(KpiTarget, fiscal_year=2026, metric=metric, area_id=area_id, value=value)
    await row(KpiTarget, fiscal_year=2025, metric="registrations", area_id=0, value=100)

    # Programs: held in fiscal 2026 are P1 (A), P2 and P5 (B); P3 starts in fiscal 2027; P4 is a draft.
    p1 = await factories.program(a, title="P1", starts_at=tokyo(2026, 5, 10, 9), ends_at=tokyo(2026, 5, 10, 15))
    p2 = await factories.program(b, title="P2", status="completed", starts_at=tokyo(2026, 8, 1, 9),
                                 ends_at=tokyo(2026, 8, 1, 15))
    p3 = await factories.program(a, title="P3", starts_at=tokyo(2027, 4, 5, 9), ends_at=tokyo(2027, 4, 5, 15))
    await factories.program(a, title="P4", status="draft", starts_at=tokyo(2026, 6, 1, 9), ends_at=tokyo(2026, 6, 1, 15))
    p5 = await factories.program(b, title="P5", starts_at=tokyo(2027, 3, 31, 18), ends_at=tokyo(2027, 3, 31, 21))

    async def applied(who, program_id, status, created_at, attended_at=None):
        await row(Application, program=program_id, member=who["id"], status=status, created_at=created_at,
                  attended_at=attended_at)

    await applied(m2, p1, "attended", tokyo(2026, 4, 20, 10), tokyo(2026, 5, 10, 12))  # week 5, A
    await applied(m3, p1, "attended", tokyo(2026, 4, 21, 10), tokyo(2026, 5, 10, 12))  # week 5, A
    await applied(m3, p2, "attended", tokyo(2026, 7, 1, 10), tokyo(2026, 8, 1, 12))  # week 17, B
    await applied(m4, p2, "cancelled", tokyo(2026, 7, 2, 10))
    await applied(m2, p5, "attended", tokyo(2027, 3, 1, 10), utc(2027, 3, 31, 14, 59, 59))  # week 52, B
    await applied(m4, p5, "attended", tokyo(2027, 3, 1, 10), utc(2027, 3, 31, 14, 0))  # week 52, B
    await applied(m1, p3, "accepted", utc(2027, 3, 31, 14, 59, 59))  # applied on the year's last second
    await applied(m5, p5, "attended", utc(2027, 3, 31, 15, 0), utc(2027, 3, 31, 15, 0))  # fiscal 2027

    # Entry pass: activations w1 (week 0), w3 (week 8), w6 (week 10), w4 (week 51) in fiscal 2026.
    bay = await row(Shop, name="ベイサイド・コワーキング", category="coworking")
    diner = await row(Shop, name="港の食堂", category="restaurant")
    day_pass = await row(Offer, shop=bay, title="一日券10%引き")
    drink = await row(Offer, shop=bay, title="ドリンク1杯無料")
    lunch = await row(Offer, shop=diner, title="ランチ100円引き")
    summer = await row(Pass, name="夏のパス")
    winter = await row(Pass, name="冬のパス")

    async def wallet_pass(who, pass_id, code, activated_at):
        return await row(WalletPass, member=who["id"], entry_pass=pass_id, short_code=code, activated_at=activated_at,
                         expires_at=activated_at + timedelta(days=30))

    w1 = await wallet_pass(m1, summer, "AAAA0001", utc(2026, 3, 31, 15, 0))
    w2 = await wallet_pass(m2, summer, "AAAA0002", utc(2026, 3, 31, 14, 0))  # fiscal 2025
    w3 = await wallet_pass(m3, winter, "AAAA0003", tokyo(2026, 6, 1, 9))
    w4 = await wallet_pass(m4, winter, "AAAA0004", tokyo(2027, 3, 30, 9))
    w6 = await wallet_pass(m6, summer, "AAAA0006", tokyo(2026, 6, 10, 10))

    async def redeemed(n, wallet_pass_id, offer_id, shop_id, at, undone_at=None):
        await row(Redemption, wallet_pass=wallet_pass_id, offer=offer_id, shop=shop_id, limit_key=f"n:{n}",
                  client_nonce=f"nonce-{n}", home_prefecture="13", redeemed_at=at, undone_at=undone_at)

    await redeemed(1, w2, lunch, diner, utc(2026, 3, 31, 14, 59, 59))  # fiscal 2025: m2's first use
    await redeemed(2, w1, day_pass, bay, utc(2026, 3, 31, 15, 0))  # Wed 04-01 00:00, week 0: m1's first use
    await redeemed(3, w2, drink, bay, utc(2026, 5, 10, 14, 59))  # Sun 05-10 23:59, week 5
    await redeemed(4, w3, lunch, diner, utc(2026, 5, 10, 15, 0))  # Mon 05-11 00:00, week 5: m3's first use
    await redeemed(5, w3, day_pass, bay, utc(2026, 5, 11, 3, 30))  # Mon 12:30, week 5
    await redeemed(6, w2, lunch, diner, utc(2026, 5, 11, 4, 0), undone_at=utc(2026, 5, 11, 4, 2))  # undone
    await redeemed(7, w6, lunch, diner, tokyo(2026, 6, 10, 11), undone_at=tokyo(2026, 6, 10, 11, 1))  # m6: undone
    await redeemed(8, w4, lunch, diner, utc(2027, 3, 31, 14, 59, 59))  # Wed 23:59:59, week 52: m4's first use
    await redeemed(9, w4, day_pass, bay, utc(2027, 3, 31, 15, 0))  # fiscal 2027

    # Surveys: S1 (A's program, named), S5 (everyone, no intent question), S2 (B's participants, anonymous,
    # opened on the year's last second); S3 opens in fiscal 2027; S4 is a draft.
    async def survey(title, opens_at, status="published", anonymous=False, program=None, target=None):
        return await row(Survey, title=title, opens_at=opens_at, status=status, anonymous=anonymous, program=program,
                         target=target or {"kind": "everyone"})

    s1 = await survey("勇払プログラム参加者アンケート", tokyo(2026, 5, 20, 10), program=p1,
                      target={"kind": "program", "program": p1})
    s5 = await survey("ふるさと住民アンケート", tokyo(2026, 10, 1, 10))
    s2 = await survey("樽前の事後アンケート", utc(2027, 3, 31, 14, 59, 59), anonymous=True,
                      target={"kind": "area_participants", "area": b})
    s3 = await survey("来年度のアンケート", utc(2027, 3, 31, 15, 0))
    s4 = await survey("下書き", tokyo(2026, 9, 1, 10), status="draft")
    q1 = await row(SurveyQuestion, survey=s1, position=0, kind="single", key="intent_to_move", text="移住の意向",
                   options=["1年以内に移住したい", "いずれ移住したい", "二地域居住をしたい", "考えていない"])
    await row(SurveyQuestion, survey=s1, position=1, kind="scale", text="満足度", options=["不満", "満足"])
    q2 = await row(SurveyQuestion, survey=s2, position=0, kind="single", key="intent_to_move", text="移住の意向",
                   options=["移住したい", "二地域居住をしたい", "考えていない"])
    q3 = await row(SurveyQuestion, survey=s3, position=0, kind="single", key="intent_to_move", text="移住の意向",
                   options=["移住したい", "考えていない"])

    async def invited(survey_id, *people):
        for who in people:
            await row(SurveyInvitation, survey=survey_id, account=who["account"])

    async def answered(survey_id, who, question_id, choice):
        response = await row(SurveyResponse, survey=survey_id, account=who["account"], submitted_at=clock.now())
        await row(SurveyAnswer, response=response, question=question_id, choice=choice)

    await invited(s1, m1, m2, m3)
    await answered(s1, m3, q1, 1)  # "いずれ移住したい": intent
    await answered(s1, m2, q1, 3)  # the last option: not considering it
    await invited(s5, m2, m3, m4)
    await invited(s2, m2, m3, m4, m6)
    await answered(s2, m4, q2, 0)  # intent, but anonymous: never linked to m4 in the funnel
    await answered(s2, m3, q2, 2)  # not considering it
    await invited(s3, m1, m2)
    await answered(s3, m1, q3, 0)
    await invited(s4, m1)

    # Push: m1 has two devices, m2 one; m3's came after the year, m6 left, staff are not members.
    async def device(account_id, n, created_at):
        return await row(PushSubscription, account=account_id, endpoint=f"https://push.example/{n}", p256dh="k",
                         auth="a", created_at=created_at)

    d1 = await device(m1["account"], 1, tokyo(2026, 5, 1))
    d2 = await device(m1["account"], 2, tokyo(2026, 5, 2))
    d3 = await device(m2["account"], 3, tokyo(2026, 9, 1))
    await device(m3["account"], 4, utc(2027, 3, 31, 15, 0))
    await device(m6["account"], 5, tokyo(2026, 7, 1))
    await device(await factories.staff_account(), 6, tokyo(2026, 7, 1))
    n1 = await row(Notification, topic="news", title="夏祭り", send_at=tokyo(2026, 6, 1, 12), status="fanned_out")
    n2 = await row(Notification, topic="news", title="新年度", send_at=utc(2027, 3, 31, 15, 0), status="fanned_out")
    await row(Notification, topic="news", title="予約", send_at=tokyo(2026, 7, 1, 12), status="scheduled")
    for subscription, status in ((d1, "sent"), (d2, "sent"), (d3, "failed")):
        await row(Delivery, notification=n1, subscription=subscription, status=status)
    await row(Delivery, notification=n2, subscription=d1, status="sent")
    return {"a": a, "b": b, "m": (m1, m2, m3, m4, m5, m6), "bay": bay, "diner": diner}
