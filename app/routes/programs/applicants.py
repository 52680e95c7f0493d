"""A program's applicants, for the editors and the secretariat who run it: the decisions on each application,
attendance at the venue by the member card, and the applicants' CSV."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, QueryParameter

from app.auth import current_account
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.i18n import to_tokyo
from app.rendering import csv_download, see_other
from app.routes.forms import form_dict, page_number
from app.routes.programs.editor import EDITORS, actor_of, no_store, program_for
from app.routes.programs.public import APPLICATION_STATUS, application_status_label, labels
from app.services.membership import member_card
from app.services.programs import activities, applications, reads
from app.services.programs.applications import ApplicationRefused
from app.services.shared import clock, exports
from app.services.shared.signed_tokens import TokenError

DECISION_REFUSALS = {
    "full": _l("No seat is free. Move someone off a seat first, or raise the capacity."),
    "not_allowed": _l("This step is not possible for the application's current status."),
    "changed_meanwhile": _l("This application changed in the meantime. Check it and try again."),
}
ATTENDANCE_REFUSALS = {
    "not_applied": _l("This member has not applied to this program."),
    "not_allowed": _l("Only accepted applicants can be marked as attended. This application is: %(status)s."),
}
DECISIONS = {
    "accept": _l("Accept"),
    "waitlist": _l("Move to the waiting list"),
    "reject": _l("Reject"),
    "attend": _l("Mark attended"),
}
# Which decision buttons an application of each status shows (the service refuses the others).
DECISIONS_BY_STATUS = {
    "accepted": ("attend", "waitlist", "reject"),
    "waitlisted": ("accept", "reject"),
}


# Applicants ----------------------------------------------------------------------------------------

APPLICANTS_PAGE = 50
ORDER_LABELS = {"applied": _l("In the order they applied"), "newest": _l("Newest first"), "number": _l("By member number")}


@dataclass(frozen=True)
class ApplicantsView:
    """Which applicants the list shows: one status (or all), in which order, which page. Kept by the tabs, the
    pager and the decision forms, so a decision brings the editor back to where they were."""

    status: str = ""
    order: str = "applied"
    page: int = 1

    @classmethod
    def read(cls, status: str, order: str, page: str) -> "ApplicantsView":
        return cls(status if status in APPLICATION_STATUS else "", order if order in ORDER_LABELS else "applied",
                   page_number(page))

    def address(self, list_url: str, **changes) -> str:
        """The list's address for this view with `changes`; a value left at its default is left out."""
        chosen = vars(replace(self, **changes))
        query = urlencode({key: value for key, value in chosen.items() if value != getattr(ApplicantsView, key)})
        return f"{list_url}?{query}" if query else list_url


async def applicants_context(request: Request, program: dict, view: ApplicantsView, problem: str = "") -> dict:
    # One row more than a page tells whether there is a next one.
    rows = await reads.applicants(program["id"], view.status, view.order, APPLICANTS_PAGE + 1, (view.page - 1) * APPLICANTS_PAGE)
    list_url = request.app.route_reverse("list_applicants", program_id=program["id"])
    counts = await reads.applicant_counts(program["id"])
    return {
        "program": program, "applicants": rows[:APPLICANTS_PAGE], "counts": counts, "total": sum(counts.values()),
        "problem": problem, "view": view, "has_next": len(rows) > APPLICANTS_PAGE,
        "list_url": lambda **changes: view.address(list_url, **changes),
        "page_url": lambda n: view.address(list_url, page=n),
        "status_tabs": [(code, str(label)) for code, label in APPLICATION_STATUS.items() if counts.get(code)],
        "orders": [(code, str(label)) for code, label in ORDER_LABELS.items()],
        "decisions": {status: [(d, str(DECISIONS[d])) for d in names] for status, names in DECISIONS_BY_STATUS.items()},
        **labels(),
    }


@get("/editor/programs/{program_id:int}/applicants", name="list_applicants", guards=EDITORS, cache_control=None)
async def list_applicants(request: Request, program_id: FromPath[int], status: FromQuery[str] = "",
                          order: FromQuery[str] = "applied",
                          page_no: Annotated[str, QueryParameter(name="page")] = "1") -> object:
    program = await program_for(request, program_id)
    context = await applicants_context(request, program, ApplicantsView.read(status, order, page_no))
    return no_store(request, "programs/editor/applicants.html", context)


@post("/editor/applications/{application_id:int}/decision", name="decide_application", guards=EDITORS)
async def decide_application(request: Request, application_id: FromPath[int]) -> object:
    program_id = await reads.program_of_application(application_id)
    if program_id is None:
        raise NotFoundException()
    program = await program_for(request, program_id)
    form = await form_dict(request)
    decision = str(form.get("decision", ""))
    view = ApplicantsView.read(str(form["status"]), str(form["order"]), str(form["page"]))
    try:
        if decision not in DECISIONS:
            raise ApplicationRefused("not_allowed")
        await applications.decide(application_id, actor_of(request), decision, clock.now())
    except ApplicationRefused as refused:
        problem = str(DECISION_REFUSALS.get(refused.reason, DECISION_REFUSALS["not_allowed"]))
        context = await applicants_context(request, program, view, problem)
        return no_store(request, "programs/editor/applicants.html", context, 409)
    request.session["flash"] = _("Saved: %(decision)s.", decision=str(DECISIONS[decision]))
    list_url = request.app.route_reverse("list_applicants", program_id=program["id"])
    return see_other(request, view.address(list_url) + f"#application-{application_id}")


# Attendance at the venue: the member card's QR token, scanned or typed ----------------------------------


async def attendance_context(program: dict, code: str = "", errors: dict | None = None, found: dict | None = None) -> dict:
    counts = await reads.applicant_counts(program["id"])
    return {
        "program": program, "code": code, "errors": errors or {}, "found": found,
        "attended": counts.get("attended", 0), "expected": counts.get("accepted", 0) + counts.get("attended", 0),
        **labels(),
    }


async def _card_holder(request: Request, program_id: int, code: str) -> dict:
    """The member a card code belongs to, with their application here; TokenError when the code is no card."""
    member = await member_card.card_holder(request.app.state.signer, code, clock.now())
    application = await reads.application_of(program_id, member["id"])
    return {**member, "status": application["status"] if application else ""}


@get("/editor/programs/{program_id:int}/attendance", name="get_attendance", guards=EDITORS, cache_control=None)
async def get_attendance(request: Request, program_id: FromPath[int], code: FromQuery[str] = "") -> object:
    """The venue page. A scanned code (?code=) shows whose card it is, to confirm with one tap."""
    program = await program_for(request, program_id)
    code = code.strip()[:300]
    errors, found = {}, None
    if code:
        try:
            found = await _card_holder(request, program_id, code)
        except TokenError as exc:
            errors["code"] = str(member_card.CARD_REFUSALS[exc.reason])
    context = await attendance_context(program, code, errors, found)
    return no_store(request, "programs/editor/attendance.html", context, 422 if errors else 200)


@post("/editor/programs/{program_id:int}/attendance", name="mark_attendance", guards=EDITORS)
async def mark_attendance(request: Request, program_id: FromPath[int]) -> object:
    program = await program_for(request, program_id)
    code = str((await form_dict(request)).get("code", "")).strip()[:300]
    errors: dict[str, str] = {}
    found = None
    try:
        if not code:
            raise TokenError("damaged")
        found = await _card_holder(request, program_id, code)
        await activities.attend_by_member(program_id, found["id"], actor_of(request), clock.now())
    except TokenError as exc:
        errors["code"] = _("Enter or scan the code of the member card.") if not code else str(member_card.CARD_REFUSALS[exc.reason])
    except ApplicationRefused as refused:
        status = application_status_label(found["status"]) if found and found["status"] else ""
        errors["code"] = str(ATTENDANCE_REFUSALS.get(refused.reason, ATTENDANCE_REFUSALS["not_allowed"])) % {"status": status}
    if errors:
        context = await attendance_context(program, code, errors, found)
        return no_store(request, "programs/editor/attendance.html", context, 422)
    request.session["flash"] = _("%(name)s (%(member_no)s) attended. Scan the next card.",
                                 name=found["display_name"], member_no=found["member_no"])
    return see_other(request, request.app.route_reverse("get_attendance", program_id=program_id))


# The applicants' CSV ---------------------------------------------------------------------------------


def applicants_csv(program: dict, rows: list[dict]) -> str:
    headers = [_("Member number"), _("Display name"), _("Full name"), _("Status"), _("Applied at"), _("Attended at"),
               _("Motivation"), *program["questions"]]
    lines = []
    for row in rows:
        answers = list(row["answers"]) + [""] * (len(program["questions"]) - len(row["answers"]))
        lines.append([
            row["member_no"], row["display_name"], f"{row['family_name']} {row['given_name']}".strip(),
            application_status_label(row["status"]), to_tokyo(row["created_at"]).strftime("%Y-%m-%d %H:%M"),
            to_tokyo(row["attended_at"]).strftime("%Y-%m-%d %H:%M") if row["attended_at"] else "",
            row["motivation"], *answers[: len(program["questions"])],
        ])
    return exports.csv_text(headers, lines)


@get("/editor/programs/{program_id:int}/applicants/csv", name="export_applicants", guards=EDITORS, cache_control=None)
async def export_applicants(request: Request, program_id: FromPath[int]) -> Response:
    program = await program_for(request, program_id)
    rows = await reads.applicants(program_id)
    with exports.csv_language():
        text = applicants_csv(program, rows)
    await exports.record_export(
        current_account(request).id, "program", str(program_id), {"table": "applicants", "rows": len(rows)}, clock.now()
    )
    return csv_download(f"program-{program_id}-applicants.csv", text)


handlers = [list_applicants, decide_application, get_attendance, mark_attendance, export_applicants]
