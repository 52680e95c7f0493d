"""受入支援: each area's budget for a fiscal year (seed 000 §8(1): about ¥500,000 per area) and the payments
against it. An area's editor enters its payments with a receipt; staff confirm them and set the budgets.

What an area has left is its budget minus every payment entered (confirmed or not: money promised is money
spent). At 80 % the pages warn; a payment that takes the area past 100 % needs the reason it is made all the
same. Amounts are whole yen, typed as people type them (¥1,200, １２００円). Every change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from app.i18n import gettext as _
from app.services.shared import exports
from app.services.shared.actor import Actor
from app.services.shared.refusals import FormInvalid, Refusal
from app.services.shared.text import clean_text
from app.services.shared.yen import parse_yen
from db.engine import atomic, is_row_id
from db.tables import Area, AuditLog, Budget, Program, Spending

DEFAULT_AMOUNT = 500_000
AMOUNT_MAX = 100_000_000
WARN_AT, FULL_AT = 80, 100  # percent of the budget
PAYEE_MAX, PURPOSE_MAX, REASON_MAX = 100, 200, 1000


class BudgetRefused(Refusal):
    """not_found | not_yours | confirmed"""


@dataclass(frozen=True)
class AreaBudget:
    area_id: int
    area_name: str
    fiscal_year: int
    amount: int
    spent: int
    confirmed: int

    @property
    def remaining(self) -> int:
        return self.amount - self.spent

    @property
    def percent(self) -> int:
        return self.spent * 100 // self.amount if self.amount else (100 if self.spent else 0)

    @property
    def level(self) -> str:
        """ok | warn (from 80 %) | over (from 100 %): what the pages show."""
        return "over" if self.percent >= FULL_AT else "warn" if self.percent >= WARN_AT else "ok"


@dataclass(frozen=True)
class SpendingValues:
    spent_on: date
    payee: str
    purpose: str
    amount: int
    program: int | None
    over_reason: str


async def area_budgets(fiscal_year: int, area_ids: list[int] | None = None) -> list[AreaBudget]:
    """Each area's budget, what was entered and confirmed against it, by area order (`area_ids`: only these)."""
    query = Area.select(Area.id, Area.name).order_by(Area.position).order_by(Area.id)
    if area_ids is not None:
        query = query.where(Area.id.is_in(area_ids or [-1]))
    areas = await query
    budgets = {row["area"]: row["amount"] for row in await Budget.select(Budget.area, Budget.amount).where(
        Budget.fiscal_year == fiscal_year)}
    spent: dict[int, list[int]] = {}
    for row in await Spending.select(Spending.area, Spending.amount, Spending.status).where(
            Spending.fiscal_year == fiscal_year):
        totals = spent.setdefault(row["area"], [0, 0])
        totals[0] += row["amount"]
        if row["status"] == "confirmed":
            totals[1] += row["amount"]
    return [AreaBudget(a["id"], a["name"], fiscal_year, budgets.get(a["id"], DEFAULT_AMOUNT),
                       *spent.get(a["id"], [0, 0])) for a in areas]


async def set_budget(area_id: int, fiscal_year: int, text: str, actor_id: int, now: datetime) -> int:
    """Set an area's budget for the year (staff); returns the amount. FormInvalid for an amount not in whole yen."""
    amount = parse_yen(text)
    if amount is None or amount > AMOUNT_MAX:
        raise FormInvalid({"amount": _("Enter the budget in whole yen, such as 500,000.")}, {"amount": text})
    if not is_row_id(area_id) or not await Area.exists().where(Area.id == area_id):
        raise BudgetRefused("not_found")
    async with atomic(Budget._meta.db):
        rows = await Budget.update({Budget.amount: amount, Budget.updated_by: actor_id, Budget.updated_at: now}).where(
            (Budget.area == area_id) & (Budget.fiscal_year == fiscal_year)).returning(Budget.id)
        if not rows:
            await Budget.insert(Budget(area=area_id, fiscal_year=fiscal_year, amount=amount, updated_by=actor_id,
                                       updated_at=now))
        await AuditLog.insert(AuditLog(actor=actor_id, action="budget.set", target_type="area", target_id=str(area_id),
                                       detail={"fiscal_year": fiscal_year, "amount": amount}, created_at=now))
    return amount


def visible_areas(actor: Actor) -> list[int] | None:
    """The areas a person sees and enters payments for: an editor their own, staff every one (None)."""
    return [actor.area_id] if actor.is_editor else None


async def area_for(actor: Actor, area_text: str, fiscal_year: int) -> AreaBudget:
    """The area a payment is entered for, as chosen in the form: one the person sees, or FormInvalid."""
    area_id = int(area_text) if area_text.isdecimal() and len(area_text) <= 9 else None
    scope = visible_areas(actor)
    found = await area_budgets(fiscal_year, [area_id]) if area_id is not None and (scope is None or area_id in scope) else []
    if not found:
        raise FormInvalid({"area": _("Choose an area from the list.")}, {"area": area_text})
    return found[0]


async def validate_spending(form: dict, area: AreaBudget, today: date) -> SpendingValues:
    """The payment form as typed, against what the area has left; FormInvalid with the values kept."""
    values = {name: str(form.get(name, "")) for name in ("spent_on", "payee", "purpose", "amount", "program", "over_reason")}
    errors: dict[str, str] = {}
    try:
        spent_on = date.fromisoformat(values["spent_on"].strip())
    except ValueError:
        spent_on = None
    if spent_on is None or not 2000 <= spent_on.year <= 2100 or spent_on > today:
        errors["spent_on"] = _("Enter the day it was paid (not in the future), such as %(day)s.", day=today.isoformat())
    payee, purpose, reason = (clean_text(values[k]) for k in ("payee", "purpose", "over_reason"))
    for name, text, limit in (("payee", payee, PAYEE_MAX), ("purpose", purpose, PURPOSE_MAX)):
        if not text:
            errors[name] = _("Required.")
        elif len(text) > limit:
            errors[name] = _("Write at most %(count)d characters.", count=limit)
    amount = parse_yen(values["amount"])
    if amount is None or not 0 < amount <= AMOUNT_MAX:
        errors["amount"] = _("Enter the amount in whole yen, such as 1,200.")
    elif area.spent + amount > area.amount and not reason:
        errors["over_reason"] = _("This payment takes the area past its budget (%(left)s yen left). Say why it is "
                                  "made all the same.", left=f"{max(area.remaining, 0):,}")
    if len(reason) > REASON_MAX:
        errors["over_reason"] = _("Write at most %(count)d characters.", count=REASON_MAX)
    program = int(values["program"]) if values["program"].isdecimal() and len(values["program"]) <= 9 else None
    if program is not None and not await Program.exists().where((Program.id == program) & (Program.area == area.area_id)):
        errors["program"] = _("Choose a program of this area, or none.")
    if errors:
        raise FormInvalid(errors, values)
    return SpendingValues(spent_on, payee, purpose, amount, program, reason)


async def add_spending(area_id: int, fiscal_year: int, values: SpendingValues, receipt_url: str, actor_id: int,
                       now: datetime) -> int:
    async with atomic(Spending._meta.db):
        rows = await Spending.insert(Spending(
            area=area_id, fiscal_year=fiscal_year, program=values.program, spent_on=values.spent_on, payee=values.payee,
            purpose=values.purpose, amount=values.amount, receipt_url=receipt_url, over_reason=values.over_reason,
            entered_by=actor_id, created_at=now)).returning(Spending.id)
        spending_id = rows[0]["id"]
        await AuditLog.insert(AuditLog(actor=actor_id, action="spending.add", target_type="spending",
                                       target_id=str(spending_id), detail={"area": area_id, "amount": values.amount,
                                                                           "payee": values.payee}, created_at=now))
    return spending_id


async def confirm(spending_id: int, actor_id: int, now: datetime) -> bool:
    """Staff confirm an entered payment; False when there is none left to confirm."""
    if not is_row_id(spending_id):
        return False
    async with atomic(Spending._meta.db):
        rows = await Spending.update({Spending.status: "confirmed", Spending.confirmed_by: actor_id,
                                      Spending.confirmed_at: now}).where(
            (Spending.id == spending_id) & (Spending.status == "entered")).returning(Spending.id)
        if rows:
            await AuditLog.insert(AuditLog(actor=actor_id, action="spending.confirm", target_type="spending",
                                           target_id=str(spending_id), created_at=now))
    return bool(rows)


async def area_programs(area_ids: list[int] | None) -> list[dict]:
    """The programs a payment can be for: those of the areas shown, newest first."""
    query = Program.select(Program.id, Program.title, Program.area).order_by(Program.starts_at, ascending=False)
    if area_ids is not None:
        query = query.where(Program.area.is_in(area_ids or [-1]))
    return await query.limit(200)


async def spendings(fiscal_year: int, area_ids: list[int] | None = None) -> list[dict]:
    """The year's payments, newest first, with their area, program and who entered and confirmed them."""
    query = Spending.select(
        *Spending.all_columns(), Spending.area.name.as_alias("area_name"), Spending.program.title.as_alias("program_title"),
        Spending.entered_by.display_name.as_alias("entered_by_name"),
        Spending.confirmed_by.display_name.as_alias("confirmed_by_name"),
    ).where(Spending.fiscal_year == fiscal_year)
    if area_ids is not None:
        query = query.where(Spending.area.is_in(area_ids or [-1]))
    return await query.order_by(Spending.spent_on, ascending=False).order_by(Spending.id, ascending=False)


async def export_csv(actor_id: int, fiscal_year: int, area_ids: list[int] | None, now: datetime) -> tuple[str, str]:
    """(file name, CSV) of the year's payments for the accountant, with Japanese headers; audited."""
    rows = await spendings(fiscal_year, area_ids)
    with exports.csv_language():
        headers = [_("Day paid"), _("Area"), _("Program"), _("Payee"), _("Purpose"), _("Amount (yen)"),
                   _("Confirmed"), _("Reason for going over the budget"), _("Receipt")]
        confirmed = _("Confirmed")
    lines = [[r["spent_on"].isoformat(), r["area_name"], r["program_title"] or "", r["payee"], r["purpose"], r["amount"],
              confirmed if r["status"] == "confirmed" else "", r["over_reason"], r["receipt_url"]] for r in rows]
    await exports.record_export(actor_id, "spending", str(fiscal_year), {"fiscal_year": fiscal_year, "rows": len(lines)},
                                now)
    return f"spending-fy{fiscal_year}.csv", exports.csv_text(headers, lines)
