"""The year's record the report lists one by one: programs held, articles published, activities by kind and area,
members by tier and the entry pass's changes, each bounded by the fiscal year in Tokyo and narrowed by an area."""

from datetime import date, datetime, timedelta, timezone

import pytest

from app.services.dashboard import record
from app.services.dashboard.record import ACTIVITY_KEYS, year_record
from app.services.programs.activities import fiscal_year_bounds
from app.services.shared import clock
from db.tables import Account, Article, CheckIn, Member, Offer, Shop
from tests import factories

JST = timezone(timedelta(hours=9))
NOW = datetime(2026, 12, 6, 3, 0, tzinfo=timezone.utc)
START, END = fiscal_year_bounds(2026)
AS_OF = date(2026, 12, 6)


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


async def test_programs_held_in_the_year_count_their_applicants_and_attendance_and_an_area_narrows_them():
    yufutsu, tarumae = await factories.area("勇払", "yufutsu"), await factories.area("樽前", "tarumae")
    held = await factories.program(yufutsu, title="ほっき漁の朝", starts_at=datetime(2026, 6, 1, 0, 0, tzinfo=JST))
    await factories.program(tarumae, title="オンライン交流会", kind="event", meeting_url="https://meet.example/x",
                            starts_at=datetime(2026, 9, 1, 19, 0, tzinfo=JST))
    await factories.program(yufutsu, title="下書きのまま", status="draft")
    await factories.program(yufutsu, title="前年度の体験", starts_at=datetime(2026, 3, 31, 23, 59, tzinfo=JST))
    people = [(await factories.member(f"会員{n}")).member_id for n in range(3)]
    await factories.attendance(held, people[0])
    await factories.attendance(held, people[1], status="accepted")
    await factories.attendance(held, people[2], status="cancelled")

    found = await year_record(START, END, AS_OF, None)
    assert [(p.title, p.kind, p.starts_on, p.applicants, p.attended) for p in found.programs] == [
        ("ほっき漁の朝", "program", date(2026, 6, 1), 2, 1), ("オンライン交流会", "event", date(2026, 9, 1), 0, 0)]
    assert [p.title for p in (await year_record(START, END, AS_OF, tarumae)).programs] == ["オンライン交流会"]

    table = record.build_table(found, "programs_held")
    assert table.rows[0][:4] == ["2026-06-01", "勇払", "プログラム（現地）", "ほっき漁の朝"]


async def test_articles_published_in_the_year_are_listed_by_date_and_drafts_are_not():
    yufutsu = await factories.area()
    for title, status, published in [("移住者インタビュー", "published", datetime(2026, 5, 10, 9, tzinfo=JST)),
                                     ("参加者募集", "published", datetime(2026, 4, 1, 0, 0, tzinfo=JST)),
                                     ("書きかけ", "draft", None),
                                     ("前年度の記事", "published", datetime(2026, 3, 31, 23, 0, tzinfo=JST))]:
        await Article.insert(Article(title=title, kind="interview", status=status, published_at=published, area=yufutsu))
    found = await year_record(START, END, AS_OF, None)
    assert [(a.published_on, a.title, a.area_name) for a in found.articles] == [
        (date(2026, 4, 1), "参加者募集", "勇払"), (date(2026, 5, 10), "移住者インタビュー", "勇払")]


async def test_activities_are_counted_by_kind_and_area_with_program_attendance_as_one_more_kind():
    yufutsu, tarumae = await factories.area("勇払", "yufutsu"), await factories.area("樽前", "tarumae")
    trail = await factories.activity(tarumae)
    online = await factories.activity(yufutsu, title="オンライン翻訳", kind="online")
    someone = (await factories.member()).member_id
    for activity_id, day in [(trail, date(2026, 11, 3)), (trail, date(2026, 11, 4)), (online, date(2026, 11, 5)),
                             (trail, date(2027, 4, 1))]:  # the last is fiscal 2027
        await CheckIn.insert(CheckIn(activity=activity_id, member=someone, day=day, method="hand", scanned_at=NOW))
    await factories.attendance(await factories.program(yufutsu), someone)

    rows = {a.area_name: a for a in (await year_record(START, END, AS_OF, None)).activities}
    assert rows["樽前"].by_kind[ACTIVITY_KEYS.index("volunteer")] == 2 and rows["樽前"].total == 2
    assert rows["勇払"].by_kind[ACTIVITY_KEYS.index("online")] == 1
    assert rows["勇払"].by_kind[ACTIVITY_KEYS.index("program")] == 1 and rows["勇払"].total == 2
    assert [a.area_name for a in (await year_record(START, END, AS_OF, yufutsu)).activities] == ["勇払"]


async def test_members_by_tier_leave_out_those_who_left_and_premium_that_lapsed():
    kept, lapsed, gone = [await factories.member(name) for name in ("継続", "失効", "退会")]
    await factories.premium(kept.member_id, until=date(2027, 3, 31))
    await factories.premium(lapsed.member_id, until=date(2026, 12, 5))
    await Account.update({Account.status: "deleted"}).where(Account.id == gone.account_id)
    await Member.update({Member.created_at: datetime(2027, 4, 1, tzinfo=JST)}).where(Member.id == lapsed.member_id)

    found = await year_record(START, END, AS_OF, None)
    assert (found.members, found.premium) == (1, 1)  # the lapsed one registered after the year: not counted
    assert record.build_table(found, "members_by_tier").rows == [["ふるさと住民", 0], ["プレミアムふるさと住民", 1], ["合計", 1]]


async def test_the_entry_pass_changes_count_shops_joined_and_offers_added_or_ended_per_month():
    shop_id, (first, second) = await factories.shop_with_offers("海鮮食堂 ほっき屋", {"title": "大盛り無料"},
                                                                {"title": "小鉢1品"})
    await Shop.update({Shop.created_at: datetime(2026, 5, 20, tzinfo=JST)}).where(Shop.id == shop_id)
    await Offer.update({Offer.created_at: datetime(2026, 5, 20, tzinfo=JST)}).where(Offer.id.is_in([first, second]))
    await Offer.update({Offer.valid_to: date(2026, 8, 31)}).where(Offer.id == second)

    found = await year_record(START, END, AS_OF, None)
    by_month = {m.month: m for m in found.pass_changes}
    assert len(found.pass_changes) == 12 and found.pass_changes[0].month == date(2026, 4, 1)
    assert (by_month[date(2026, 5, 1)].shops_joined, by_month[date(2026, 5, 1)].offers_added) == (1, 2)
    assert by_month[date(2026, 8, 1)].offers_ended == 1
    assert (found.shops_now, found.offers_now) == (1, 2)
    await Shop.update({Shop.active: False}).where(Shop.id == shop_id)
    assert ((await year_record(START, END, AS_OF, None)).offers_now, record.build_table(found, "pass_changes").rows[1]) \
        == (0, ["2026/05", 1, 2, 0])


async def test_an_unknown_table_key_is_refused():
    with pytest.raises(KeyError):
        record.build_table(await year_record(START, END, AS_OF, None), "nothing")
