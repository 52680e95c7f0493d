"""The KPI dashboard's figures, each checked against values worked out by hand on the fixed data set of
`fiscal_2026` (the `data` fixture)."""

from datetime import date

from app.services.dashboard import kpi
from app.services.dashboard.figures import AreaRow, Count, IntentOption, PushReach, SurveyRow, fiscal_period, week_starts
from app.services.dashboard.filters import current_fiscal_year
from app.services.shared import clock
from db.tables import Member
from tests.services.dashboard.fiscal_2026 import tokyo

WEEKS = 53  # 365 days: 52 weeks and one day


def steps(weekly_changes: dict[int, int]) -> tuple[int, ...]:
    """A cumulative weekly series from {week: new count}."""
    total, series = 0, []
    for week in range(WEEKS):
        total += weekly_changes.get(week, 0)
        series.append(total)
    return tuple(series)


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


# Demo data


async def test_the_demo_gives_the_dashboard_a_believable_year_and_loads_once(monkeypatch):
    from app.demo import load_demo_data
    from app.demo.kpi import KPI_DEMO_MEMBERS

    monkeypatch.setattr(clock, "now", lambda: tokyo(2026, 11, 20, 10))

    first = await load_demo_data()
    assert (first["kpi_members"], first["report_sections"]) == (KPI_DEMO_MEMBERS, 3)
    figures = await kpi.dashboard(current_fiscal_year(), None)
    assert all(m.target for m in figures.metrics)
    assert figures.metric("registrations").actual > 0 and figures.metric("redemptions").actual > 0
    assert figures.funnel[0].count > 0 and figures.intent_answered > 0
    again = await load_demo_data()
    assert (again["kpi_members"], again["kpi_targets"], again["report_sections"]) == (0, 0, 0)
