"""受入支援 budgets and payments by fiscal year: an editor sees and enters their own area's, staff see every area's,
set the budgets and confirm the payments (app/services/programs/budgets.py holds the rules)."""

from __future__ import annotations

from typing import Annotated

from litestar import Request, get, post
from litestar.params import FromPath, QueryParameter

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.i18n import to_tokyo
from app.rendering import csv_download, page, see_other
from app.routes.forms import fiscal_year, form_dict, uploaded_file
from app.services.programs import budgets
from app.services.programs.activities import fiscal_year_of
from app.services.programs.budgets import BudgetRefused
from app.services.shared import clock, uploads
from app.services.shared.actor import Actor
from app.services.shared.refusals import FormInvalid

EDITORS = [guards.editor_or_staff]
Year = Annotated[str, QueryParameter(name="year")]


def _actor(request: Request) -> Actor:
    return Actor.of(current_account(request))


def _year(text: str) -> tuple[int, dict]:
    return fiscal_year(text, fiscal_year_of(clock.now()))


async def _context(request: Request, year: int, errors: dict | None = None, values: dict | None = None) -> dict:
    actor = _actor(request)
    scope = budgets.visible_areas(actor)
    current = fiscal_year_of(clock.now())
    spendings = await budgets.spendings(year, scope)
    return {
        "year": year, "years": list(range(current + 1, current - 4, -1)), "actor": actor,
        "areas": await budgets.area_budgets(year, scope), "spendings": spendings,
        "openable": await uploads.openable([s["receipt_url"] for s in spendings], actor),
        "programs": await budgets.area_programs(scope), "errors": errors or {}, "values": values or {},
        "today": to_tokyo(clock.now()).date().isoformat(),
        "warn_at": budgets.WARN_AT,
    }


@get("/editor/budgets", name="list_budgets", guards=EDITORS, cache_control=None)
async def list_budgets(request: Request, year: Year = "") -> object:
    chosen, errors = _year(year)
    return page(request, "programs/budgets/index.html", {**await _context(request, chosen), "year_error": errors.get("year", "")},
                status_code=422 if errors else 200, cache="no-store")


def _area_of(form: dict) -> int | None:
    text = str(form.get("area", ""))
    return int(text) if text.isdecimal() and len(text) <= 9 else None


@post("/editor/budgets/spending", name="add_spending", guards=EDITORS)
async def add_spending(request: Request) -> object:
    actor = _actor(request)
    form = await form_dict(request)
    year, _errors = _year(str(form.get("year", "")))
    now = clock.now()
    try:
        area = await budgets.area_for(actor, str(form.get("area", "")), year)
        values = await budgets.validate_spending(form, area, to_tokyo(now).date())
        data, _name = await uploaded_file(request, "receipt", uploads.MAX_BYTES)
        receipt = ""
        if data:
            try:
                receipt = await uploads.store(await uploads.prepare_attachment(data), request.app.state.settings.var_dir,
                                              actor.account_id, private=True)
            except uploads.UploadRefused as refused:
                raise FormInvalid({"receipt": refused.message}, {}) from None
    except FormInvalid as invalid:
        context = await _context(request, year, invalid.errors, {k: str(form.get(k, "")) for k in form})
        return page(request, "programs/budgets/index.html", {**context, "year_error": ""}, status_code=422, cache="no-store")
    await budgets.add_spending(area.area_id, year, values, receipt, actor.account_id, now)
    request.session["flash"] = _("The payment is entered.")
    return see_other(request, request.app.route_reverse("list_budgets") + f"?year={year}")


@post("/staff/budgets/spending/{spending_id:int}/confirm", name="confirm_spending", guards=[guards.staff])
async def confirm_spending(request: Request, spending_id: FromPath[int]) -> object:
    form = await form_dict(request)
    year, _errors = _year(str(form.get("year", "")))
    done = await budgets.confirm(spending_id, current_account(request).id, clock.now())
    request.session["flash"] = _("The payment is confirmed.") if done else _("This payment was confirmed already.")
    return see_other(request, request.app.route_reverse("list_budgets") + f"?year={year}")


@post("/staff/budgets", name="set_budget", guards=[guards.staff])
async def set_budget(request: Request) -> object:
    form = await form_dict(request)
    year, _errors = _year(str(form.get("year", "")))
    area_id = _area_of(form)
    try:
        if area_id is None:
            raise BudgetRefused("not_found")
        amount = await budgets.set_budget(area_id, year, str(form.get("budget_amount", "")),
                                          current_account(request).id, clock.now())
    except (BudgetRefused, FormInvalid) as refused:
        errors = refused.errors if isinstance(refused, FormInvalid) else {"area": _("Choose an area from the list.")}
        shown = {"budget_area": str(form.get("area", "")), "budget_amount": str(form.get("budget_amount", ""))}
        context = await _context(request, year, {f"budget_{k}": v for k, v in errors.items()}, shown)
        return page(request, "programs/budgets/index.html", {**context, "year_error": ""}, status_code=422, cache="no-store")
    request.session["flash"] = _("The budget is set to %(amount)s yen.", amount=f"{amount:,}")
    return see_other(request, request.app.route_reverse("list_budgets") + f"?year={year}")


@get("/editor/budgets/csv", name="export_spending", guards=EDITORS, cache_control=None)
async def export_spending(request: Request, year: Year = "") -> object:
    chosen, _errors = _year(year)
    actor = _actor(request)
    filename, text = await budgets.export_csv(actor.account_id, chosen, budgets.visible_areas(actor), clock.now())
    return csv_download(filename, text)


handlers = [list_budgets, add_spending, confirm_spending, set_budget, export_spending]
