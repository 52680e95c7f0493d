"""受入支援 budgets: amounts typed as people type yen, the default budget, what is left and the warnings, a reason
to go over, confirmation once, each change audited, and the CSV."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from app.services.programs import budgets
from app.services.shared.refusals import FormInvalid
from db.tables import AuditLog
from tests import factories

NOW = datetime(2026, 12, 9, 3, 0, tzinfo=timezone.utc)
TODAY = date(2026, 12, 9)


@pytest.mark.parametrize("typed, yen", [("1200", 1200), ("1,200", 1200), ("¥1,200", 1200), ("１２００円", 1200),
                                        ("￥500,000", 500000), ("1,20", None), ("12.5", None), ("-3", None), ("", None)])
def test_yen_are_read_as_people_type_them(typed, yen):
    assert budgets.parse_yen(typed) == yen


def form(**changes) -> dict:
    return {"spent_on": "2026-12-01", "payee": "勇払ファーム", "purpose": "受入時の昼食代", "amount": "12,000",
            "program": "", "over_reason": "", **changes}


async def area_now(area_id: int) -> budgets.AreaBudget:
    return (await budgets.area_budgets(2026, [area_id]))[0]


async def test_an_area_has_the_default_budget_until_staff_set_one_and_warns_from_80_percent():
    area = await factories.area()
    staff = await factories.staff_account()
    assert (await area_now(area)).amount == budgets.DEFAULT_AMOUNT
    assert await budgets.set_budget(area, 2026, "１００，０００", staff, NOW) == 100_000
    await budgets.set_budget(area, 2026, "100,000", staff, NOW)  # set again: one row, the same amount
    values = await budgets.validate_spending(form(amount="80,000"), await area_now(area), TODAY)
    await budgets.add_spending(area, 2026, values, "", staff, NOW)
    now = await area_now(area)
    assert (now.spent, now.remaining, now.percent, now.level) == (80_000, 20_000, 80, "warn")
    assert (await budgets.area_budgets(2025, [area]))[0].spent == 0  # another year is another budget
    actions = [row["action"] for row in await AuditLog.select(AuditLog.action).order_by(AuditLog.id)]
    assert actions == ["budget.set", "budget.set", "spending.add"]


async def test_going_over_the_budget_needs_a_reason():
    area = await factories.area()
    staff = await factories.staff_account()
    await budgets.set_budget(area, 2026, "10,000", staff, NOW)
    with pytest.raises(FormInvalid) as invalid:
        await budgets.validate_spending(form(amount="12,000"), await area_now(area), TODAY)
    assert "over_reason" in invalid.value.errors and "10,000" in invalid.value.errors["over_reason"]
    values = await budgets.validate_spending(form(amount="12,000", over_reason="雪で送迎車を追加した"), await area_now(area),
                                             TODAY)
    await budgets.add_spending(area, 2026, values, "", staff, NOW)
    assert (await area_now(area)).level == "over"


@pytest.mark.parametrize("changes, field", [
    ({"amount": "abc"}, "amount"), ({"amount": "0"}, "amount"), ({"payee": " "}, "payee"), ({"purpose": ""}, "purpose"),
    ({"spent_on": "2026-12-31"}, "spent_on"), ({"spent_on": "yesterday"}, "spent_on"), ({"program": "999999"}, "program"),
    ({"payee": "店" * 101}, "payee"),
])
async def test_what_cannot_be_kept_is_refused_with_the_values_kept(changes, field):
    area = await factories.area()
    with pytest.raises(FormInvalid) as invalid:
        await budgets.validate_spending(form(**changes), await area_now(area), TODAY)
    assert field in invalid.value.errors and invalid.value.values["payee"] == form(**changes)["payee"]


async def test_a_payment_is_confirmed_once_and_the_csv_lists_it_with_japanese_headers():
    area = await factories.area()
    other = await factories.area("樽前", "tarumae")
    program = await factories.program(area, title="酪農体験")
    staff = await factories.staff_account()
    values = await budgets.validate_spending(form(program=str(program)), await area_now(area), TODAY)
    spending = await budgets.add_spending(area, 2026, values, "/uploads/" + "a" * 32 + ".pdf", staff, NOW)
    with pytest.raises(FormInvalid):  # a program of another area
        await budgets.validate_spending(form(program=str(program)), await area_now(other), TODAY)
    assert await budgets.confirm(spending, staff, NOW) is True
    assert await budgets.confirm(spending, staff, NOW) is False
    assert (await area_now(area)).confirmed == 12_000
    assert [s["id"] for s in await budgets.spendings(2026, [other])] == []
    name, text = await budgets.export_csv(staff, 2026, None, NOW)
    lines = text.lstrip("\ufeff").splitlines()
    assert name == "spending-fy2026.csv" and lines[0].startswith("支払日,地区,プログラム,支払先,内容,金額（円）,確認")
    assert "勇払ファーム" in lines[1] and ",12000," in lines[1] and "酪農体験" in lines[1]
