"""The KPI dashboard, every figure checked against values worked out by hand on one fixed data set.

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

import csv
import io
from datetime import date, datetime, timedelta, timezone

import pytest

from app.i18n import current_locale
from app.services.dashboard import filters, kpi, targets
from app.services.dashboard.figures import AreaRow, Count, IntentOption, PushReach, SurveyRow, fiscal_period, percent, week_starts
from app.services.dashboard.filters import Selection
from app.services.dashboard.tables import TABLE_KEYS, build_tables, export_csv
from app.services.membership import membership
from app.services.shared import clock
from app.services.shared.refusals import FormInvalid
from db.tables import (
    Application,
    AuditLog,
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

WEEKS = 53  # 365 days: 52 weeks and one day


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def tokyo(*args) -> datetime:
    return utc(*args) - timedelta(hours=9)


async def row(table, **values) -> int:
    item = table(**values)
    await item.save()
    return item.id


def steps(weekly_changes: dict[int, int]) -> tuple[int, ...]:
    """A cumulative weekly series from {week: new count}."""
    total, series = 0, []
    for week in range(WEEKS):
        total += weekly_changes.get(week, 0)
        series.append(total)
    return tuple(series)


@pytest.fixture
def after_the_year(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: utc(2027, 6, 1, 3, 0))


async def member(name: str, registered: datetime, prefecture: str, ties: list[str], areas=()) -> dict:
    registered_member = await factories.member(name, home_prefecture=prefecture, ties=ties, area_ids=list(areas))
    await Member.update({Member.created_at: registered}).where(Member.id == registered_member.member_id)
    return {"id": registered_member.member_id, "account": registered_member.account_id}


@pytest.fixture
async def data(after_the_year):
    a = await factories.area("勇払", "yufutsu")
    b = await factories.area("樽前", "tarumae")
    m1 = await member("花子", utc(2026, 3, 31, 14, 59, 59), "13", ["workation", "furusato_tax"], [a])
    m2 = await member("太郎", utc(2026, 3, 31, 15, 0), "27", ["migration"], [a])
    m3 = await member("次郎", tokyo(2026, 4, 8, 0, 0), "13", [], [b])
    m4 = await member("三郎", tokyo(2027, 3, 31, 23, 59), "", ["family"], [a, b])
    m5 = await member("四郎", utc(2027, 3, 31, 15, 0), "01", ["former_resident"])
    m6 = await member("六子", tokyo(2026, 6, 10, 10, 0), "14", ["dual_residence", "migration"])
    await membership.delete_account(m6["account"])
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


async def test_registrations_count_the_year_from_april_first_to_march_thirty_first_in_tokyo(data):
    figures = await kpi.dashboard(2026, None)
    registrations = figures.metric("registrations")
    assert (registrations.actual, registrations.target, registrations.percent) == (4, 8, 50.0)
    assert registrations.weekly == steps({0: 1, 1: 1, 10: 1, 52: 1})
    assert (await kpi.dashboard(2025, None)).metric("registrations").actual == 1  # m1, at 23:59:59 on March 31
    assert (await kpi.dashboard(2027, None)).metric("registrations").actual == 1  # m5, at 00:00 on April 1


async def test_registrations_by_prefecture_and_by_tie(data):
    figures = await kpi.dashboard(2026, None)
    assert figures.registrations_by_prefecture == (Count("", 1), Count("13", 1), Count("14", 1), Count("27", 1))
    assert figures.registrations_by_tie == (
        Count("furusato_tax", 0), Count("workation", 0), Count("visitor", 0), Count("products", 0),
        Count("former_resident", 0), Count("family", 1), Count("dual_residence", 1), Count("migration", 2),
        Count("other", 0), Count("none", 1),
    )


async def test_participants_are_attendances_per_area_with_the_region_target_the_sum_of_the_areas(data):
    figures = await kpi.dashboard(2026, None)
    participants = figures.metric("participants")
    assert (participants.actual, participants.target, participants.percent) == (5, 14, 35.7)  # 5/14 = 35.71…
    assert participants.weekly == steps({5: 2, 17: 1, 52: 2})
    assert figures.areas == (
        AreaRow(data["a"], "勇払", programs=1, participants=2, people=2, target=10, percent=20.0),
        AreaRow(data["b"], "樽前", programs=2, participants=3, people=3, target=4, percent=75.0),
    )
    assert (await kpi.dashboard(2027, None)).metric("participants").actual == 1  # marked at 00:00 on April 1


async def test_activations_and_redemptions_come_from_the_entry_pass_analysis(data):
    figures = await kpi.dashboard(2026, None)
    activations, redemptions = figures.metric("activations"), figures.metric("redemptions")
    assert (activations.actual, activations.target, activations.percent) == (4, 6, 66.7)
    assert activations.weekly == steps({0: 1, 8: 1, 10: 1, 51: 1})
    assert (redemptions.actual, redemptions.target, redemptions.percent) == (5, 7, 71.4)  # undone ones never count
    assert redemptions.weekly == steps({0: 1, 5: 3, 52: 1})
    assert [(s["name"], s["count"]) for s in figures.wallet.by_shop] == [("ベイサイド・コワーキング", 3), ("港の食堂", 2)]
    grid = figures.wallet.by_weekday_hour
    assert (grid[2][0], grid[6][23], grid[0][0], grid[0][12], grid[2][23]) == (1, 1, 1, 1, 1)
    assert sum(map(sum, grid)) == 5
    earlier = await kpi.dashboard(2025, None)
    assert (earlier.metric("activations").actual, earlier.metric("redemptions").actual) == (1, 1)


async def test_the_response_rate_is_responses_over_invitations_of_surveys_opened_in_the_year(data):
    figures = await kpi.dashboard(2026, None)
    rate = figures.metric("response_rate")
    assert (rate.actual, rate.target, rate.percent) == (40.0, 60, 66.7)  # 4/10; 40/60 = 66.66…
    assert rate.weekly == ()
    assert figures.surveys == (
        SurveyRow("勇払プログラム参加者アンケート", date(2026, 5, 20), 3, 2, 66.7),
        SurveyRow("ふるさと住民アンケート", date(2026, 10, 1), 3, 0, 0.0),
        SurveyRow("樽前の事後アンケート", date(2027, 3, 31), 4, 2, 50.0),
    )
    later = await kpi.dashboard(2027, None)
    assert (later.metric("response_rate").actual, len(later.surveys)) == (50.0, 1)


async def test_intent_to_move_is_any_option_but_the_last(data):
    figures = await kpi.dashboard(2026, None)
    assert figures.intent == (
        IntentOption("1年以内に移住したい", 0, True), IntentOption("いずれ移住したい", 1, True),
        IntentOption("二地域居住をしたい", 0, True), IntentOption("考えていない", 2, False),
        IntentOption("移住したい", 1, True),
    )
    assert (figures.intent_answered, figures.intent_stated) == (4, 2)


async def test_push_reach_counts_members_with_a_device_by_the_end_of_the_year(data):
    push = (await kpi.dashboard(2026, None)).push
    assert push == PushReach(members=4, members_with_device=2, devices=3, reach=50.0, notifications=1,
                             deliveries=3, delivered=2)


async def test_the_funnel_narrows_from_first_offer_use_to_premium(data):
    funnel = (await kpi.dashboard(2026, None)).funnel
    # first use in the year: m1, m3, m4 (m2's was in fiscal 2025, m6's was undone); all applied;
    # m3 and m4 attended; only m3 said so in a named survey (m4's answer was anonymous); m3 is premium.
    assert funnel == (Count("first_use", 3), Count("applied", 3), Count("attended", 2), Count("intent", 1),
                      Count("premium", 1))


async def test_premium_that_lapsed_before_the_end_of_the_year_does_not_count(data):
    m3 = data["m"][2]
    await Member.update({Member.premium_until: date(2027, 3, 30)}).where(Member.id == m3["id"])
    assert (await kpi.dashboard(2026, None)).funnel[-1] == Count("premium", 0)


async def test_an_area_narrows_registrations_participants_surveys_and_the_funnel_but_not_the_pass(data):
    figures = await kpi.dashboard(2026, data["a"])
    assert (figures.area_id, figures.area_name) == (data["a"], "勇払")
    by_key = {m.key: (m.actual, m.target, m.percent) for m in figures.metrics}
    assert by_key == {
        "registrations": (2, None, None),  # followers of A registered in the year: m2, m4
        "participants": (2, 10, 20.0),
        "activations": (4, None, None),
        "redemptions": (5, None, None),
        "response_rate": (66.7, None, None),  # S1 only: 2/3
    }
    assert figures.registrations_by_prefecture == (Count("", 1), Count("27", 1))
    assert [a.name for a in figures.areas] == ["勇払"]
    assert (figures.intent_answered, figures.intent_stated) == (2, 1)
    # first use: m1, m3, m4 → applied to A's programs: m1 (P3), m3 → attended at A: m3 → intent → premium.
    assert [c.count for c in figures.funnel] == [3, 2, 1, 1, 1]
    b = await kpi.dashboard(2026, data["b"])
    assert (b.metric("participants").actual, b.metric("response_rate").actual) == (3, 50.0)


async def test_weeks_not_begun_are_left_out_while_the_year_runs(data, monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: tokyo(2026, 5, 11, 12))  # Monday of week 5
    figures = await kpi.dashboard(2026, None)
    assert figures.as_of == date(2026, 5, 11)
    assert figures.metric("redemptions").weekly[:7] == (1, 1, 1, 1, 1, 4, None)
    assert set(figures.metric("registrations").weekly[6:]) == {None}


async def test_the_dashboard_is_the_same_when_computed_twice(data):
    assert await kpi.dashboard(2026, None) == await kpi.dashboard(2026, None)
    assert await kpi.dashboard(2026, None) != await kpi.dashboard(2026, data["a"])


async def test_an_empty_year_has_zeros_and_no_rates(after_the_year):
    figures = await kpi.dashboard(2026, None)
    assert [(m.actual, m.target, m.percent) for m in figures.metrics] == [
        (0, None, None), (0, None, None), (0, None, None), (0, None, None), (None, None, None)]
    assert figures.push.reach is None
    assert [c.count for c in figures.funnel] == [0, 0, 0, 0, 0]
    assert len(figures.week_starts) == WEEKS
    assert len(week_starts(fiscal_period(2027))) == 53  # 366 days: 52 weeks and two days


def test_percentages_round_half_up_to_one_decimal():
    assert [percent(1, 8), percent(1, 3), percent(2, 3), percent(5, 14), percent(0, 3)] == [
        12.5, 33.3, 66.7, 35.7, 0.0]
    assert percent(3, 0) is None


# Tables and CSV


async def test_tables_carry_the_figures_with_labels(data):
    token = current_locale.set("ja")
    try:
        tables = {t.key: t for t in build_tables(await kpi.dashboard(2026, None))}
    finally:
        current_locale.reset(token)
    assert set(tables) == set(TABLE_KEYS)
    assert tables["targets"].rows[0] == ["会員登録数", 8, 4, 50.0]
    assert tables["targets"].rows[-1][1:] == [60, 40.0, 66.7]
    assert tables["registrations_by_prefecture"].rows == [["未回答", 1], ["東京都", 1], ["神奈川県", 1], ["大阪府", 1]]
    assert tables["participants_by_area"].rows == [["勇払", 1, 2, 2, 10, 20.0], ["樽前", 2, 3, 3, 4, 75.0]]
    assert tables["funnel"].rows[0][1:] == [3, 100.0, 100.0]
    assert tables["funnel"].rows[3][1:] == [1, 33.3, 50.0]
    assert tables["weekly"].rows[0] == ["2026-04-01", 1, 0, 1, 1]
    assert tables["weekly"].rows[-1] == ["2027-03-31", 4, 5, 4, 5]
    assert ["到達率（%）", 50.0] in tables["push"].rows


async def test_a_csv_export_has_a_bom_japanese_headers_and_is_audited(data):
    actor = await factories.staff_account()
    name, text = await export_csv(actor, "participants_by_area", Selection(2026, data["a"]), clock.now())
    assert name == f"kpi-fy2026-area{data['a']}-participants-by-area.csv"
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0][:3] == ["地域", "プログラム数", "参加者数"]
    assert rows[1] == ["勇払", "1", "2", "2", "10", "20.0"]
    audit = await AuditLog.select().where(AuditLog.action == "export.csv").first()
    assert (audit["actor"], audit["target_type"], audit["target_id"]) == (actor, "kpi", "participants_by_area")


async def test_an_unknown_table_is_refused():
    with pytest.raises(KeyError):
        await export_csv(None, "members", Selection(2026, None), clock.now())


# Filters and targets


def test_the_selection_defaults_to_this_year_and_the_region():
    assert filters.parse_selection("", "", 2026, {3}) == Selection(2026, None)
    assert filters.parse_selection("2024", "3", 2026, {3}) == Selection(2024, 3)


@pytest.mark.parametrize("year, area, field", [("abc", "", "year"), ("1999", "", "year"), ("２０２６", "", "year"),
                                               ("2026", "7", "area"), ("2026", "x", "area")])
def test_the_selection_refuses_years_and_areas_not_offered(year, area, field):
    with pytest.raises(FormInvalid) as refused:
        filters.parse_selection(year, area, 2026, {3})
    assert field in refused.value.errors


async def test_the_years_offered_run_from_the_first_registration_to_next_year(data):
    assert await filters.fiscal_years(2027) == [2028, 2027, 2026, 2025]


async def test_a_new_installation_offers_last_this_and_next_year():
    assert await filters.fiscal_years(2026) == [2027, 2026, 2025]


def test_targets_accept_whole_numbers_as_typed_in_japanese_and_blank_clears():
    parsed = targets.parse_targets({"registrations": "１，２００", "activations": " 300 ", "redemptions": "",
                                    "response_rate": "100", "participants_3": "10"}, [3, 4])
    assert parsed == {("registrations", 0): 1200, ("activations", 0): 300, ("redemptions", 0): None,
                      ("response_rate", 0): 100, ("participants", 3): 10, ("participants", 4): None}


def test_targets_refuse_negatives_fractions_words_and_rates_over_one_hundred():
    with pytest.raises(FormInvalid) as refused:
        targets.parse_targets({"registrations": "-5", "activations": "1.5", "redemptions": "たくさん",
                               "response_rate": "101", "participants_3": "99999999"}, [3])
    errors = refused.value.errors
    assert set(errors) == {"registrations", "activations", "redemptions", "response_rate", "participants_3"}
    assert errors["response_rate"] == "率は100%を超えられません。"
    assert refused.value.values["redemptions"] == "たくさん"


async def test_saving_targets_sets_changes_and_clears_them_in_one_audited_step(after_the_year):
    actor = await factories.staff_account()
    await targets.save_targets(2026, {("registrations", 0): 500, ("participants", 3): 10}, actor, clock.now())
    await targets.save_targets(2026, {("registrations", 0): 600, ("participants", 3): None}, actor, clock.now())
    assert await targets.targets(2026) == {("registrations", 0): 600}
    logs = await AuditLog.select(AuditLog.detail).where(AuditLog.action == "kpi.targets").output(load_json=True)
    assert [log["detail"] for log in logs] == [{"registrations:0": 500, "participants:3": 10},
                                               {"registrations:0": 600, "participants:3": None}]
    await targets.save_targets(2026, {("registrations", 0): 600}, actor, clock.now())  # nothing changed: no log
    assert await AuditLog.count().where(AuditLog.action == "kpi.targets") == 2


async def test_targets_saved_at_the_same_moment_by_someone_else_leave_nothing_half_written(after_the_year, monkeypatch):
    actor = await factories.staff_account()
    await targets.save_targets(2026, {("activations", 0): 50}, actor, clock.now())

    async def stale(fiscal_year):  # as if read before the other person's save
        return {}

    monkeypatch.setattr(targets, "targets", stale)
    with pytest.raises(targets.TargetsConflict):
        await targets.save_targets(2026, {("registrations", 0): 1, ("activations", 0): 70}, actor, clock.now())
    rows = await KpiTarget.select(KpiTarget.metric, KpiTarget.value)
    assert rows == [{"metric": "activations", "value": 50}]


# Demo data


async def test_the_demo_gives_the_dashboard_a_believable_year_and_loads_once(monkeypatch):
    from app.demo import KPI_DEMO_MEMBERS, load_demo_data

    monkeypatch.setattr(clock, "now", lambda: tokyo(2026, 11, 20, 10))

    first = await load_demo_data()
    assert (first["kpi_members"], first["report_sections"]) == (KPI_DEMO_MEMBERS, 3)
    figures = await kpi.dashboard(filters.current_fiscal_year(), None)
    assert all(m.target for m in figures.metrics)
    assert figures.metric("registrations").actual > 0 and figures.metric("redemptions").actual > 0
    assert figures.funnel[0].count > 0 and figures.intent_answered > 0
    again = await load_demo_data()
    assert (again["kpi_members"], again["kpi_targets"], again["report_sections"]) == (0, 0, 0)
