"""Programs for the people who run them: editors (their own area) and the secretariat (every area).

Drafting and editing, sending for review, closing and completing; the applicants with their decisions,
attendance at the venue by the member card, the applicants' CSV; and for the secretariat the members
with enough local activities this fiscal year for the premium tier.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, FromQuery, QueryParameter

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.i18n import to_tokyo
from app.rendering import page, see_other
from app.routes.forms import form_dict
from app.routes.programs.public import application_status_label, labels
from app.services.membership import member_card
from app.services.programs import areas, programs
from app.services.programs.programs import (
    PREMIUM_ACTIVITIES,
    THEMES,
    ApplicationRefused,
    ProgramInvalid,
    WorkflowRefused,
)
from app.services.review import revisions
from app.services.review.revisions import RevisionRefused
from app.services.shared import clock, exports
from app.services.shared.actor import Actor
from app.services.shared.signed_tokens import TokenError
from db.engine import is_row_id

EDITORS = [guards.editor_or_staff]
FiscalYear = Annotated[str, QueryParameter(name="year")]

WORKFLOW_REFUSALS = {
    "not_allowed": _l("This step is not possible in the program's current status."),
    "changed_meanwhile": _l("Someone changed this program in the meantime. Check it and try again."),
    "in_review": _l("The secretariat is reviewing this program. You can edit it again after their decision."),
    "reason_needed": _l("Enter a reason."),
    "no_revision": _l("No change is waiting for review any more: the secretariat may have decided on it already."),
}
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


def actor_of(request: Request) -> Actor:
    account = current_account(request)
    return Actor.of(account)


def _url(request: Request, name: str, **params) -> str:
    return request.app.route_reverse(name, **params)


def _no_store(request: Request, template: str, context: dict, status_code: int = 200, fragment: str | None = None):
    return page(request, template, context, fragment=fragment, status_code=status_code, cache="no-store")


async def program_for(request: Request, program_id: int) -> dict:
    """The program if this person may manage it: 404 when there is none, 403 when it is another area's."""
    if not is_row_id(program_id):  # beyond the id column's range: simply not found
        raise NotFoundException()
    program = await programs.program_page(program_id, any_status=True)
    if program is None:
        raise NotFoundException()
    actor = actor_of(request)
    if actor.outside_area(program["area"]):
        raise PermissionDeniedException()
    return program


# The list ------------------------------------------------------------------------------------------


@get("/editor/programs", name="list_editor_programs", guards=EDITORS, cache_control=None)
async def list_editor_programs(request: Request) -> object:
    actor = actor_of(request)
    context = {"programs": await programs.managed_programs(actor), "actor": actor,
               "area_name": await areas.area_name(actor.area_id),
               "pending": await revisions.pending_ids(programs.REVISIONS), **labels()}
    return _no_store(request, "programs/editor/list.html", context)


# Drafting and editing ------------------------------------------------------------------------------


def _input_time(moment) -> str:
    """A stored time as an <input type="datetime-local"> value in Tokyo time."""
    return to_tokyo(moment).strftime("%Y-%m-%dT%H:%M") if moment else ""


def values_of(program: dict) -> dict:
    return {
        "area": str(program["area"]), "kind": program["kind"], "title": program["title"], "summary": program["summary"],
        "body": program["body"], "themes": list(program["themes"]), "place": program["place"],
        "meeting_url": program["meeting_url"], "starts_at": _input_time(program["starts_at"]),
        "ends_at": _input_time(program["ends_at"]), "apply_from": _input_time(program["apply_from"]),
        "apply_until": _input_time(program["apply_until"]), "capacity": str(program["capacity"]),
        "support": program["support"], "questions": "\n".join(program["questions"]), "image_url": program["image_url"],
    }


def values_from_form(form: dict) -> dict:
    """What was typed, to show again next to the errors (nothing of it is saved)."""
    values = {key: (value[0] if isinstance(value, list) and key != "themes" else value) for key, value in form.items()}
    themes = form.get("themes", [])
    values["themes"] = themes if isinstance(themes, list) else [themes]
    return values


async def form_context(request: Request, values: dict, errors: dict, program: dict | None = None,
                       editable: bool = True, problem: str = "", revision: dict | None = None) -> dict:
    actor = actor_of(request)
    area_rows = await areas.choices()
    own_area = next((a["name"] for a in area_rows if a["id"] == actor.area_id), "")
    return {
        "values": {"kind": "program", "capacity": "10", "themes": [], **values},
        "errors": errors,
        "program": program,
        # An editor's change to a public program waits for review; the form then shows the proposed version.
        "proposes": program is not None and programs.proposes_revision(program, actor),
        "revision": revision,
        "editable": editable,
        "problem": problem,
        "actor": actor,
        "own_area": own_area,
        "areas": [(str(a["id"]), a["name"]) for a in area_rows],
        "kinds": [(code, str(label)) for code, label in programs.KIND_LABELS.items()],
        "themes": [(code, str(label)) for code, label in THEMES.items()],
        **labels(),
    }


@get("/editor/programs/new", name="new_program", guards=EDITORS, cache_control=None)
async def new_program(request: Request) -> object:
    return _no_store(request, "programs/editor/form.html", await form_context(request, {}, {}))


@post("/editor/programs", name="create_program", guards=EDITORS)
async def create_program(request: Request) -> object:
    form = await form_dict(request)
    actor = actor_of(request)
    try:
        values = await programs.validate_program(form, actor)
    except ProgramInvalid as invalid:
        context = await form_context(request, values_from_form(form), invalid.errors)
        return _no_store(request, "programs/editor/form.html", context, 422, fragment="programs/editor/_form.html")
    program_id = await programs.create_program(actor, values)
    request.session["flash"] = _("The draft was saved. Send it for review when it is ready.")
    return see_other(request, _url(request, "edit_program", program_id=program_id))


async def _edit_page(request: Request, program: dict, values: dict | None = None, errors: dict | None = None,
                     status_code: int = 200, problem: str = "") -> object:
    actor = actor_of(request)
    try:
        await programs.editable(program["id"], actor)
        editable = True
    except WorkflowRefused:
        editable = False
    revision = await programs.pending_revision(program["id"])
    if values is None:
        # An editor keeps working on their change waiting for review, not on the published version.
        shown = revisions.merged(program, revision) if programs.proposes_revision(program, actor) else program
        values = values_of(shown)
    context = await form_context(request, values, errors or {}, program, editable, problem, revision)
    # The form posts by HTMX into itself: errors and refusals come back as the form alone.
    return _no_store(request, "programs/editor/form.html", context, status_code,
                     fragment="programs/editor/_form.html" if editable else None)


@get("/editor/programs/{program_id:int}", name="edit_program", guards=EDITORS, cache_control=None)
async def edit_program(request: Request, program_id: FromPath[int]) -> object:
    return await _edit_page(request, await program_for(request, program_id))


@post("/editor/programs/{program_id:int}", name="update_program", guards=EDITORS)
async def update_program(request: Request, program_id: FromPath[int]) -> object:
    program = await program_for(request, program_id)
    form = await form_dict(request)
    actor = actor_of(request)
    try:
        values = await programs.validate_program(form, actor)
        saved = await programs.update_program(program_id, actor, values)
    except ProgramInvalid as invalid:
        return await _edit_page(request, program, values_from_form(form), invalid.errors, 422)
    except (WorkflowRefused, RevisionRefused) as refused:
        problem = str(WORKFLOW_REFUSALS.get(refused.reason, WORKFLOW_REFUSALS["not_allowed"]))
        return await _edit_page(request, program, values_from_form(form), None, 409, problem)
    if saved != revisions.PROPOSED:
        request.session["flash"] = _("The program was saved.")
    else:
        request.session["flash"] = revisions.saved_message(bool(await programs.pending_revision(program_id)))
    return see_other(request, _url(request, "edit_program", program_id=program_id))


@post("/editor/programs/{program_id:int}/revision/withdraw", name="withdraw_program_revision", guards=EDITORS)
async def withdraw_program_revision(request: Request, program_id: FromPath[int]) -> object:
    """Take back a change waiting for review: the published version stays as it is."""
    await program_for(request, program_id)
    try:
        await programs.withdraw_revision(program_id, actor_of(request))
    except RevisionRefused as refused:
        request.session["flash"] = str(WORKFLOW_REFUSALS.get(refused.reason, WORKFLOW_REFUSALS["not_allowed"]))
    else:
        request.session["flash"] = _("Your change was withdrawn. The published version stays as it is.")
    return see_other(request, _url(request, "edit_program", program_id=program_id))


async def _move(request: Request, program_id: int, to_status: str, done: str) -> object:
    program = await program_for(request, program_id)
    try:
        await programs.transition(program_id, actor_of(request), to_status)
    except WorkflowRefused as refused:
        problem = str(WORKFLOW_REFUSALS.get(refused.reason, WORKFLOW_REFUSALS["not_allowed"]))
        return await _edit_page(request, program, status_code=409, problem=problem)
    request.session["flash"] = done
    return see_other(request, _url(request, "edit_program", program_id=program_id))


@post("/editor/programs/{program_id:int}/submit", name="submit_program", guards=EDITORS)
async def submit_program(request: Request, program_id: FromPath[int]) -> object:
    return await _move(request, program_id, "submitted", _("Sent to the secretariat for review."))


@post("/editor/programs/{program_id:int}/close", name="close_program", guards=EDITORS)
async def close_program(request: Request, program_id: FromPath[int]) -> object:
    return await _move(request, program_id, "closed", _("Applications are now closed."))


@post("/editor/programs/{program_id:int}/complete", name="complete_program", guards=EDITORS)
async def complete_program(request: Request, program_id: FromPath[int]) -> object:
    return await _move(request, program_id, "completed", _("The program is marked as completed."))


# Applicants ----------------------------------------------------------------------------------------


async def applicants_context(program: dict, problem: str = "") -> dict:
    rows = await programs.applicants(program["id"])
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return {
        "program": program, "applicants": rows, "counts": counts, "problem": problem,
        "decisions": {status: [(d, str(DECISIONS[d])) for d in names] for status, names in DECISIONS_BY_STATUS.items()},
        **labels(),
    }


@get("/editor/programs/{program_id:int}/applicants", name="list_applicants", guards=EDITORS, cache_control=None)
async def list_applicants(request: Request, program_id: FromPath[int]) -> object:
    program = await program_for(request, program_id)
    return _no_store(request, "programs/editor/applicants.html", await applicants_context(program))


@post("/editor/applications/{application_id:int}/decision", name="decide_application", guards=EDITORS)
async def decide_application(request: Request, application_id: FromPath[int]) -> object:
    program_id = await programs.program_of_application(application_id)
    if program_id is None:
        raise NotFoundException()
    program = await program_for(request, program_id)
    decision = str((await form_dict(request)).get("decision", ""))
    try:
        if decision not in DECISIONS:
            raise ApplicationRefused("not_allowed")
        await programs.decide(application_id, actor_of(request), decision, clock.now())
    except ApplicationRefused as refused:
        problem = str(DECISION_REFUSALS.get(refused.reason, DECISION_REFUSALS["not_allowed"]))
        return _no_store(request, "programs/editor/applicants.html", await applicants_context(program, problem), 409)
    request.session["flash"] = _("Saved: %(decision)s.", decision=str(DECISIONS[decision]))
    return see_other(request, _url(request, "list_applicants", program_id=program["id"]) + f"#application-{application_id}")


# Attendance at the venue: the member card's QR token, scanned or typed ----------------------------------


async def attendance_context(program: dict, code: str = "", errors: dict | None = None, found: dict | None = None) -> dict:
    rows = await programs.applicants(program["id"])
    return {
        "program": program, "code": code, "errors": errors or {}, "found": found,
        "attended": sum(1 for r in rows if r["status"] == "attended"),
        "expected": sum(1 for r in rows if r["status"] in ("accepted", "attended")),
        **labels(),
    }


async def _card_holder(request: Request, program_id: int, code: str) -> dict:
    """The member a card code belongs to, with their application here; TokenError when the code is no card."""
    member = await member_card.card_holder(request.app.state.signer, code, clock.now())
    application = await programs.application_of(program_id, member["id"])
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
    return _no_store(request, "programs/editor/attendance.html", context, 422 if errors else 200)


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
        await programs.attend_by_member(program_id, found["id"], actor_of(request), clock.now())
    except TokenError as exc:
        errors["code"] = _("Enter or scan the code of the member card.") if not code else str(member_card.CARD_REFUSALS[exc.reason])
    except ApplicationRefused as refused:
        status = application_status_label(found["status"]) if found and found["status"] else ""
        errors["code"] = str(ATTENDANCE_REFUSALS.get(refused.reason, ATTENDANCE_REFUSALS["not_allowed"])) % {"status": status}
    if errors:
        context = await attendance_context(program, code, errors, found)
        return _no_store(request, "programs/editor/attendance.html", context, 422)
    request.session["flash"] = _("%(name)s (%(member_no)s) attended. Scan the next card.",
                                 name=found["display_name"], member_no=found["member_no"])
    return see_other(request, _url(request, "get_attendance", program_id=program_id))


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
    rows = await programs.applicants(program_id)
    with exports.csv_language():
        text = applicants_csv(program, rows)
    await exports.record_export(
        current_account(request).id, "program", str(program_id), {"table": "applicants", "rows": len(rows)}, clock.now()
    )
    return Response(
        text.encode("utf-8"),
        media_type="text/csv",  # Litestar adds "; charset=utf-8" to text types
        headers={"Content-Disposition": f"attachment; filename=program-{program_id}-applicants.csv", "Cache-Control": "no-store"},
    )


# The secretariat: members with enough local activities for the premium tier -------------------------------


@get("/staff/activities", name="list_active_members", guards=[guards.staff], cache_control=None)
async def list_active_members(request: Request, year: FiscalYear = "") -> object:
    current = programs.fiscal_year_of(clock.now())
    errors = {}
    chosen = current
    if year:
        if year.isdecimal() and len(year) == 4 and 2000 <= int(year) <= 2100:
            chosen = int(year)
        else:
            errors["year"] = _("Enter a year such as %(year)d.", year=current)
    members = await programs.active_members(chosen)
    context = {"members": members, "year": chosen, "years": list(range(current, current - 5, -1)), "errors": errors,
               "minimum": PREMIUM_ACTIVITIES}
    return _no_store(request, "programs/editor/activities.html", context, 422 if errors else 200)


handlers = [
    list_editor_programs, new_program, create_program, edit_program, update_program, withdraw_program_revision,
    submit_program, close_program, complete_program,
    list_applicants, decide_application, get_attendance, mark_attendance, export_applicants,
    list_active_members,
]
