"""Usage analysis of the entry pass, checked against figures worked out by hand on a small fixed data set.

Times are in UTC in the rows; Tokyo is UTC+9, so 15:00 UTC is already the next day in Tokyo.
"""

import csv
import io
from datetime import date, datetime, timedelta, timezone

import pytest

from app.i18n import current_locale
from app.services.shared.refusals import FormInvalid
from app.services.wallet import analysis as wallet_analysis
from app.services.wallet.analysis import Period
from db.tables import AuditLog, Offer, Pass, Redemption, Shop, WalletPass
from tests import factories

FY2026 = Period(date(2026, 4, 1), date(2027, 3, 31))
FY2025 = Period(date(2025, 4, 1), date(2026, 3, 31))
MON, TUE, WED, SUN = 0, 1, 2, 6


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


async def row(table, **values) -> int:
    item = table(**values)
    await item.save()
    return item.id


@pytest.fixture
async def data():
    """Two shops, three offers, two passes, three wallet passes and eight redemptions around the boundaries."""
    bay = await row(Shop, name="ベイサイド・コワーキング", category="coworking")
    diner = await row(Shop, name="港の食堂", category="restaurant")
    day_pass = await row(Offer, shop=bay, title="一日券10%引き")
    drink = await row(Offer, shop=bay, title="ドリンク1杯無料")
    lunch = await row(Offer, shop=diner, title="ランチ100円引き")
    summer = await row(Pass, name="夏のパス")
    winter = await row(Pass, name="冬のパス")
    hanako = (await factories.member("つなぐ花子")).member_id
    taro = (await factories.member("港太郎", home_prefecture="27")).member_id

    async def wallet_pass(member_id, pass_id, code, activated_at):
        return await row(WalletPass, member=member_id, entry_pass=pass_id, short_code=code, activated_at=activated_at,
                         expires_at=activated_at + timedelta(days=30))

    # Activated at Tokyo 2026-04-01 00:00 (in FY2026), Tokyo 2026-03-31 23:00 (FY2025), and in June.
    w1 = await wallet_pass(hanako, summer, "AAAA0001", utc(2026, 3, 31, 15, 0))
    w2 = await wallet_pass(taro, summer, "AAAA0002", utc(2026, 3, 31, 14, 0))
    w3 = await wallet_pass(hanako, winter, "AAAA0003", utc(2026, 6, 1, 0, 0))

    async def redeemed(n, wallet_pass_id, offer_id, shop_id, prefecture, at, undone_at=None):
        await row(Redemption, wallet_pass=wallet_pass_id, offer=offer_id, shop=shop_id, limit_key=f"n:{n}",
                  client_nonce=f"nonce-{n}", home_prefecture=prefecture, redeemed_at=at, undone_at=undone_at)

    await redeemed(1, w1, lunch, diner, "13", utc(2026, 3, 31, 14, 59, 59))  # Tue 03-31 23:59:59 Tokyo: FY2025
    await redeemed(2, w1, day_pass, bay, "13", utc(2026, 3, 31, 15, 0, 0))  # Wed 04-01 00:00 Tokyo: FY2026
    await redeemed(3, w1, drink, bay, "13", utc(2026, 5, 10, 14, 59))  # Sun 05-10 23:59 Tokyo
    await redeemed(4, w2, lunch, diner, "27", utc(2026, 5, 10, 15, 0))  # Mon 05-11 00:00 Tokyo
    await redeemed(5, w2, day_pass, bay, "27", utc(2026, 5, 11, 3, 30))  # Mon 05-11 12:30 Tokyo
    await redeemed(6, w2, lunch, diner, "27", utc(2026, 5, 11, 4, 0), undone_at=utc(2026, 5, 11, 4, 2))  # undone
    await redeemed(7, w3, lunch, diner, "", utc(2027, 3, 31, 14, 59, 59))  # Wed 2027-03-31 23:59:59 Tokyo: FY2026
    await redeemed(8, w1, day_pass, bay, "13", utc(2027, 3, 31, 15, 0))  # Thu 2027-04-01 00:00 Tokyo: FY2027
    return {"bay": bay, "diner": diner, "day_pass": day_pass, "drink": drink, "lunch": lunch, "summer": summer,
            "winter": winter}


def test_the_fiscal_year_runs_from_april_to_march():
    assert wallet_analysis.fiscal_year(date(2026, 3, 31)) == FY2025
    assert wallet_analysis.fiscal_year(date(2026, 4, 1)) == FY2026
    assert wallet_analysis.fiscal_year(date(2027, 1, 15)) == FY2026


def test_a_period_starts_and_ends_at_tokyo_midnight():
    start, end = FY2026.bounds()
    assert start == utc(2026, 3, 31, 15, 0)
    assert end == utc(2027, 3, 31, 15, 0)


def test_an_empty_period_filter_means_this_fiscal_year():
    assert wallet_analysis.parse_period("", "", date(2026, 11, 22)) == FY2026
    assert wallet_analysis.parse_period("2026-05-01", "", date(2026, 11, 22)) == Period(date(2026, 5, 1), date(2027, 3, 31))
    assert wallet_analysis.parse_period(" 2026-05-01 ", "2026-05-01", date(2026, 11, 22)) == Period(date(2026, 5, 1), date(2026, 5, 1))


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [("2026-02-30", "", "from"), ("", "2027/03/31", "to"), ("2026-05-02", "2026-05-01", "to"), ("9999-12-31", "", "from")],
)
def test_a_bad_period_is_named_by_its_field(start, end, field):
    with pytest.raises(FormInvalid) as caught:
        wallet_analysis.parse_period(start, end, date(2026, 11, 22))
    assert list(caught.value.errors) == [field]


async def test_redemptions_per_shop_and_offer_count_only_the_period_and_never_undone_ones(data):
    figures = await wallet_analysis.analyse(FY2026)
    assert figures.total == 5
    assert [(s["name"], s["count"]) for s in figures.by_shop] == [("ベイサイド・コワーキング", 3), ("港の食堂", 2)]
    assert [(o["shop_name"], o["title"], o["count"]) for o in figures.by_offer] == [
        ("ベイサイド・コワーキング", "一日券10%引き", 2),
        ("港の食堂", "ランチ100円引き", 2),
        ("ベイサイド・コワーキング", "ドリンク1杯無料", 1),
    ]


async def test_redemptions_per_weekday_and_hour_are_in_tokyo_time(data):
    grid = (await wallet_analysis.analyse(FY2026)).by_weekday_hour
    cells = {(day, hour): n for day, hours in enumerate(grid) for hour, n in enumerate(hours) if n}
    assert cells == {(WED, 0): 1, (SUN, 23): 1, (MON, 0): 1, (MON, 12): 1, (WED, 23): 1}
    earlier = (await wallet_analysis.analyse(FY2025)).by_weekday_hour
    assert {(d, h) for d, hours in enumerate(earlier) for h, n in enumerate(hours) if n} == {(TUE, 23)}


async def test_redemptions_per_home_prefecture_use_the_snapshot(data):
    figures = await wallet_analysis.analyse(FY2026)
    assert [(p["code"], p["count"]) for p in figures.by_prefecture] == [("13", 2), ("27", 2), ("", 1)]
    table = wallet_analysis.build_table(figures, "prefectures")
    assert table.rows == [["東京都", 2], ["大阪府", 2], ["未回答", 1]]


async def test_activations_and_redemptions_per_pass(data):
    figures = await wallet_analysis.analyse(FY2026)
    assert [(p["name"], p["activations"], p["count"], p["wallets_used"]) for p in figures.by_pass] == [
        ("夏のパス", 1, 4, 2),
        ("冬のパス", 1, 1, 1),
    ]
    earlier = await wallet_analysis.analyse(FY2025)
    assert earlier.total == 1
    assert [(p["activations"], p["count"]) for p in earlier.by_pass] == [(1, 1), (0, 0)]


async def test_a_one_day_period_includes_its_last_second_only(data):
    last_day = await wallet_analysis.analyse(Period(date(2027, 3, 31), date(2027, 3, 31)))
    assert last_day.total == 1
    first_day = await wallet_analysis.analyse(Period(date(2026, 4, 1), date(2026, 4, 1)))
    assert first_day.total == 1
    assert [s["count"] for s in first_day.by_shop] == [1, 0]


async def test_every_table_has_a_header_and_one_row_per_item(data):
    tables = wallet_analysis.build_tables(await wallet_analysis.analyse(FY2026))
    assert [t.key for t in tables] == list(wallet_analysis.TABLE_KEYS)
    weekday = tables[2]
    assert weekday.headers[0] == "曜日" and weekday.headers[1] == "0時" and weekday.headers[-1] == "合計"
    assert len(weekday.headers) == 26
    assert [r[0] for r in weekday.rows] == ["月", "火", "水", "木", "金", "土", "日"]
    assert weekday.rows[MON][-1] == 2 and weekday.rows[WED][1] == 1 and weekday.rows[WED][24] == 1
    assert tables[0].rows[1] == ["港の食堂", "飲食店", 2, 0, 0]


async def test_csv_export_has_a_bom_japanese_headers_and_is_audited(data):
    staff_id = await factories.staff_account()
    token = current_locale.set("en")  # whoever exports, the file is in Japanese for the city's spreadsheets
    try:
        filename, text = await wallet_analysis.export_csv(staff_id, "shops", FY2026, utc(2026, 11, 22, 3, 0))
    finally:
        current_locale.reset(token)
    assert text.startswith("\ufeff")
    assert filename == "entry-pass-shops-2026-04-01-2027-03-31.csv"
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows == [["店舗", "カテゴリ", "利用件数", "うちオフライン", "照合不一致"], ["ベイサイド・コワーキング", "コワーキングスペース", "3", "0", "0"],
                    ["港の食堂", "飲食店", "2", "0", "0"]]
    assert "\r\n" in text
    audit = await AuditLog.select().where(AuditLog.action == "export.csv").output(load_json=True)
    assert len(audit) == 1
    assert audit[0]["actor"] == staff_id
    assert audit[0]["detail"] == {"table": "shops", "from": "2026-04-01", "to": "2027-03-31", "rows": 2}


async def test_an_unknown_table_is_not_exported(data):
    staff_id = await factories.staff_account()
    with pytest.raises(KeyError):
        await wallet_analysis.export_csv(staff_id, "members", FY2026, utc(2026, 11, 22))
    assert await AuditLog.count().where(AuditLog.action == "export.csv") == 0


async def test_the_redemptions_of_a_period_come_one_by_one_undone_ones_marked(data):
    rows = await wallet_analysis.redemptions(FY2026)
    assert [row["redeemed_at"] for row in rows] == sorted((row["redeemed_at"] for row in rows), reverse=True)
    assert len(rows) == 6 and sum(1 for row in rows if row["undone_at"]) == 1  # 2 to 7; undone ones are listed too
    assert rows[0]["shop_name"] == "港の食堂" and rows[0]["offer_title"] == "ランチ100円引き"
    assert rows[0]["pass_name"] == "冬のパス" and rows[0]["member_no"].startswith("TMK-")
    oldest = await wallet_analysis.redemptions(FY2026, newest_first=False)
    assert oldest == rows[::-1]


async def test_the_redemptions_narrow_to_one_shop_and_go_a_page_at_a_time(data):
    at_diner = await wallet_analysis.redemptions(FY2026, data["diner"])
    assert {row["shop_name"] for row in at_diner} == {"港の食堂"} and len(at_diner) == 3
    everything = await wallet_analysis.redemptions(FY2026)
    pages = [await wallet_analysis.redemptions(FY2026, limit=4, offset=offset) for offset in (0, 4, 8)]
    assert pages[0] + pages[1] == everything and len(pages[1]) == 2 and pages[2] == []
    assert await wallet_analysis.redemptions(FY2026, shop_id=999999) == []
