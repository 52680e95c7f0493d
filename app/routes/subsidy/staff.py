"""The travel subsidy for the secretariat: which programs it covers and on what terms, the claims by status with
their counts and the year's totals, one claim's check and the steps on it, and the accountant's CSV. The rules are
in app/services/subsidy/ (rules.py, review.py, figures.py)."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import Annotated
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter

from app import guards
from app.auth import current_account
from app.i18n import current_locale
from app.i18n import gettext as _
from app.rendering import csv_download, page, see_other
from app.routes.forms import fiscal_year, form_dict, page_number, single_values
from app.services.audit.log import action_label
from app.services.notify.personal import Told
from app.services.programs import areas, reads
from app.services.programs.activities import fiscal_year_of
from app.services.shared import clock
from app.services.shared.reference import prefecture_name
from app.services.shared.refusals import FormInvalid
from app.services.subsidy import figures, review, rules
from app.services.subsidy.claims import MAX_RECEIPTS
from app.services.subsidy.review import PAGE_SIZE, TABS, ClaimFilter, ReviewRefused, status_label
from app.services.subsidy.rules import TRANSPORTS, transport_label, transport_labels
from db.engine import row_id

STAFF = [guards.staff]
Query = Annotated[str, QueryParameter()]


def _told(request: Request) -> Told:
    settings = request.app.state.settings
    return Told(settings.smtp, settings.base_url)


def labels() -> dict:
    return {"status_label": status_label, "transport_label": transport_label, "transport_labels": transport_labels,
            "max_receipts": MAX_RECEIPTS}


# Which programs the subsidy covers -------------------------------------------------------------------------


async def _program(program_id: int) -> dict:
    program = await reads.program_page(program_id, any_status=True)
    if program is None:
        raise NotFoundException()
    return program


async def _rules_page(request: Request, program: dict, values: dict | None = None, errors: dict | None = None,
                      status_code: int = 200) -> object:
    current = await rules.rules_of(program["id"])
    return page(request, "subsidy/staff/rules.html", {
        "program": program, "rules": current, "values": values or rules.form_values(current, program),
        "errors": errors or {}, "transports": [(code, str(label)) for code, label in TRANSPORTS.items()],
        "last_day": rules.last_day(program), **labels()}, status_code=status_code, cache="no-store")


@get("/staff/programs/{program_id:int}/subsidy", name="edit_travel_subsidy", guards=STAFF, cache_control=None)
async def edit_travel_subsidy(request: Request, program_id: FromPath[int]) -> object:
    return await _rules_page(request, await _program(program_id))


@post("/staff/programs/{program_id:int}/subsidy", name="set_travel_subsidy", guards=STAFF)
async def set_travel_subsidy(request: Request, program_id: FromPath[int]) -> object:
    program = await _program(program_id)
    form = await form_dict(request)
    actor_id, now = current_account(request).id, clock.now()
    if form.get("action") == "remove":
        if await rules.remove_rules(program_id, actor_id, now):
            request.session["flash"] = _("The travel subsidy no longer covers this program. Claims already made go on.")
        return see_other(request, request.app.route_reverse("edit_travel_subsidy", program_id=program_id))
    try:
        await rules.set_rules(rules.read_rules(form, program), actor_id, now)
    except FormInvalid as invalid:
        return await _rules_page(request, program, invalid.values, invalid.errors, 422)
    request.session["flash"] = _("The travel subsidy covers this program. Members see its terms on the program's page.")
    return see_other(request, request.app.route_reverse("edit_travel_subsidy", program_id=program_id))


# The claims ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListView:
    """The list as its address says: a fiscal year, an area or a program (or every one), a status tab, a page."""

    year: int
    area: str = ""
    program: str = ""
    status: str = "submitted"
    page: int = 1

    @classmethod
    def read(cls, year: str, area: str, program: str, status: str, page_no: str) -> tuple[ListView, dict]:
        chosen, errors = fiscal_year(year, fiscal_year_of(clock.now()))
        return cls(chosen, area if row_id(area) else "", program if row_id(program) else "",
                   status if status in TABS or status == "all" else "submitted", page_number(page_no)), errors

    @property
    def filter(self) -> ClaimFilter:
        return ClaimFilter(self.year, int(self.area) if self.area else None, int(self.program) if self.program else None,
                           "" if self.status == "all" else self.status)

    def address(self, base: str, **changes) -> str:
        chosen = vars(replace(self, **changes))
        return base + "?" + urlencode({k: v for k, v in chosen.items() if v not in ("", None) and (k, v) != ("page", 1)})


@get("/staff/claims", name="list_travel_claims", guards=STAFF, cache_control=None)
async def list_travel_claims(request: Request, year: Query = "", area: Query = "", program: Query = "",
                             status: Query = "submitted", page_no: Annotated[str, QueryParameter(name="page")] = "1"
                             ) -> object:
    view, errors = ListView.read(year, area, program, status, page_no)
    base = request.app.route_reverse("list_travel_claims")
    found = await review.claims(view.filter, PAGE_SIZE + 1, (view.page - 1) * PAGE_SIZE)
    counts = await review.status_counts(replace(view.filter, status=""))
    current = fiscal_year_of(clock.now())
    totals = await figures.figures(view.year, view.filter.area_id)
    return page(request, "subsidy/staff/claims.html", {
        "view": view, "claims": found[:PAGE_SIZE], "has_next": len(found) > PAGE_SIZE, "counts": counts,
        "tabs": [(code, status_label(code)) for code in TABS], "total": sum(counts.values()), "year_error": errors.get("year", ""),
        "years": list(range(current + 1, current - 4, -1)), "areas": await areas.choices(), "totals": totals,
        "program_name": next((p.name for p in totals.by_program if str(p.program_id) == view.program), ""),
        "list_url": lambda **changes: view.address(base, **changes),
        "page_url": lambda n: view.address(base, page=n),
        # The accountant's file holds every claim of the year (and area or program) whatever tab is open.
        "csv_url": view.address(request.app.route_reverse("export_travel_claims"), status="all", page=1),
        **labels()}, status_code=422 if errors else 200, cache="no-store")


@get("/staff/claims/csv", name="export_travel_claims", guards=STAFF, cache_control=None)
async def export_travel_claims(request: Request, year: Query = "", area: Query = "", program: Query = "",
                               status: Query = "all") -> object:
    view, _errors = ListView.read(year, area, program, status or "all", "1")
    filename, text = await figures.export_csv(current_account(request).id, view.filter, clock.now())
    return csv_download(filename, text)


async def _claim_page(request: Request, claim_id: int, values: dict | None = None, errors: dict | None = None,
                      problem: str = "", status_code: int = 200) -> object:
    claim = await review.claim(claim_id)
    if claim is None:
        raise NotFoundException()
    return page(request, "subsidy/staff/claim.html", {
        "claim": claim, "history": await review.history(claim_id), "rules": await rules.rules_of(claim["program"]),
        "values": {"amount": f"{claim['amount']:,}", "note": "", "reason": "",
                   "paid_on": clock.today_in_japan().isoformat(), **(values or {})},
        "errors": errors or {}, "problem": problem, "action_label": action_label,
        "home": prefecture_name(claim["home_prefecture"], current_locale.get()) + claim["home_municipality"],
        "back_url": request.app.route_reverse("list_travel_claims") + "?" + urlencode(
            {"year": claim["fiscal_year"], "status": claim["status"] if claim["status"] in TABS else "all"}),
        **labels()}, status_code=status_code, cache="no-store")


@get("/staff/claims/{claim_id:int}", name="get_travel_claim", guards=STAFF, cache_control=None)
async def get_travel_claim(request: Request, claim_id: FromPath[int]) -> object:
    return await _claim_page(request, claim_id)


async def _take_step(request: Request, claim_id: int, form: dict, step: Awaitable, done: str) -> object:
    """Run one of the secretariat's steps on a claim: back to the claim with what was done, or its page again with
    the messages next to the fields (422) or what happened meanwhile (409)."""
    try:
        await step
    except FormInvalid as invalid:
        return await _claim_page(request, claim_id, single_values(form), invalid.errors, status_code=422)
    except ReviewRefused as refused:
        if refused.reason == "not_found":
            raise NotFoundException() from None
        return await _claim_page(request, claim_id, problem=refused.message, status_code=409)
    request.session["flash"] = done
    return see_other(request, request.app.route_reverse("get_travel_claim", claim_id=claim_id))


@post("/staff/claims/{claim_id:int}/decision", name="decide_travel_claim", guards=STAFF)
async def decide_travel_claim(request: Request, claim_id: FromPath[int]) -> object:
    form = await form_dict(request)
    decision, reason = str(form.get("decision", "")), str(form.get("reason", ""))
    actor_id, told, now = current_account(request).id, _told(request), clock.now()
    if decision == "approve":
        step = review.approve(claim_id, actor_id, str(form.get("amount", "")), str(form.get("note", "")), told, now)
        return await _take_step(request, claim_id, form, step, _("The claim is approved. The member is told."))
    if decision == "return":
        return await _take_step(request, claim_id, form, review.send_back(claim_id, actor_id, reason, told, now),
                                _("The claim is returned to the member to correct."))
    if decision == "decline":
        return await _take_step(request, claim_id, form, review.decline(claim_id, actor_id, reason, told, now),
                                _("The claim is declined. The member is told the reason."))
    return await _claim_page(request, claim_id, problem=_("Choose a step from the page."), status_code=422)


@post("/staff/claims/{claim_id:int}/paid", name="pay_travel_claim", guards=STAFF)
async def pay_travel_claim(request: Request, claim_id: FromPath[int]) -> object:
    form = await form_dict(request)
    step = review.mark_paid(claim_id, current_account(request).id, str(form.get("paid_on", "")), _told(request),
                            clock.now())
    return await _take_step(request, claim_id, form, step, _("Marked as paid. The member is told."))


handlers = [edit_travel_subsidy, set_travel_subsidy, list_travel_claims, export_travel_claims, get_travel_claim,
            decide_travel_claim, pay_travel_claim]
