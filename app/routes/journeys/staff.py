"""The secretariat's journey rules: each rule on or off for a fiscal year (the warm lead with who takes it), and
how often each fired and how many went on to the next rung."""

from __future__ import annotations

from typing import Annotated

from litestar import Request, get, post
from litestar.params import FromPath, QueryParameter

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.rendering import page, see_other
from app.routes.forms import fiscal_year, form_dict
from app.services.desk.asking import staff_accounts
from app.services.journeys import round as journeys
from app.services.journeys import rules
from app.services.journeys.rules import RuleRefused
from app.services.programs.activities import fiscal_year_of
from app.services.shared import clock

Year = Annotated[str, QueryParameter(name="year")]


async def _context(year: int, errors: dict[str, dict[str, str]] | None = None) -> dict:
    current = fiscal_year_of(clock.now())
    return {
        "year": year, "years": list(range(current + 1, current - 4, -1)), "rules": rules.RULES,
        "labels": rules.LABELS, "descriptions": rules.DESCRIPTIONS, "settings": await rules.settings_for(year),
        "figures": await journeys.figures(year), "staff": await staff_accounts(), "errors": errors or {},
    }


@get("/staff/journeys", name="list_journey_rules", guards=[guards.staff], cache_control=None)
async def list_journey_rules(request: Request, year: Year = "") -> object:
    chosen, errors = fiscal_year(year, fiscal_year_of(clock.now()))
    return page(request, "journeys/staff/index.html", {**await _context(chosen), "year_error": errors.get("year", "")},
                status_code=422 if errors else 200, cache="no-store")


@post("/staff/journeys/{rule:str}", name="save_journey_rule", guards=[guards.staff])
async def save_journey_rule(request: Request, rule: FromPath[str]) -> object:
    form = await form_dict(request)
    chosen, errors = fiscal_year(form.get("year", ""), fiscal_year_of(clock.now()))
    assignee = form.get("assignee", "")
    try:
        if errors:
            raise RuleRefused("unknown_rule")
        await rules.save(chosen, rule, form.get("enabled", "") == "on",
                         int(assignee) if assignee.isdecimal() and len(assignee) <= 9 else None,
                         current_account(request).id)
    except RuleRefused as refused:
        return page(request, "journeys/staff/index.html",
                    {**await _context(chosen, {rule: {refused.field or "form": refused.message}}), "year_error": ""},
                    status_code=422, cache="no-store")
    request.session["flash"] = _("The rule is saved for fiscal year %(year)d.", year=chosen)
    return see_other(request, request.app.route_reverse("list_journey_rules") + f"?year={chosen}")


handlers = [list_journey_rules, save_journey_rule]
