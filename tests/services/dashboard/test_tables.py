"""The dashboard's tables and their CSV exports, on the fixed data set of `fiscal_2026` (the `data` fixture)."""

import csv
import io

import pytest

from app.i18n import current_locale
from app.services.dashboard import kpi
from app.services.dashboard.filters import Selection
from app.services.dashboard.tables import TABLE_KEYS, build_tables, export_csv
from app.services.shared import clock
from db.tables import AuditLog
from tests import factories


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
    assert rows[0][:3] == ["地区", "プログラム数", "参加者数"]
    assert rows[1] == ["勇払", "1", "2", "2", "10", "20.0"]
    audit = await AuditLog.select().where(AuditLog.action == "export.csv").first()
    assert (audit["actor"], audit["target_type"], audit["target_id"]) == (actor, "kpi", "participants_by_area")


async def test_an_unknown_table_is_refused():
    with pytest.raises(KeyError):
        await export_csv(None, "members", Selection(2026, None), clock.now())


async def test_the_travel_subsidy_tables_total_claims_per_area_and_program_and_follow_the_area_filter(data):
    """P2 (樽前, August) is covered: 次郎's claim was paid at 15,000 of 20,000; P5 (樽前, 31 March) is covered with a
    claim still waiting; P1 (勇払) is covered and nobody claimed; P3 starts in fiscal 2027 and stays out."""
    from db.tables import Program

    programs = {p["title"]: p["id"] for p in await Program.select(Program.id, Program.title)}
    for title in ("P1", "P2", "P3", "P5"):
        await factories.travel_subsidy(programs[title])
    _hanako, taro, jiro, *_others = data["m"]
    await factories.travel_claim(programs["P2"], jiro["id"], status="paid", approved_amount=15_000)
    await factories.travel_claim(programs["P5"], taro["id"], amount=12_000, fare=12_000)
    token = current_locale.set("ja")
    try:
        tables = {t.key: t for t in build_tables(await kpi.dashboard(2026, None))}
        by_area = {t.key: t for t in build_tables(await kpi.dashboard(2026, data["a"]))}
    finally:
        current_locale.reset(token)
    assert tables["travel_claims"].headers == ["地区", "申請数", "未決定", "却下", "申請額（円）", "承認額（円）", "支払額（円）"]
    assert tables["travel_claims"].rows == [["勇払", 0, 0, 0, 0, 0, 0], ["樽前", 2, 1, 0, 32_000, 15_000, 15_000]]
    assert [r[:3] for r in tables["travel_claims_by_program"].rows] == [["P1", "勇払", 0], ["P2", "樽前", 1], ["P5", "樽前", 1]]
    assert by_area["travel_claims"].rows == [["勇払", 0, 0, 0, 0, 0, 0]]
