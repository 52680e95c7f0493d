"""Programs for the people who run them: editors (their own area) and the secretariat (every area).

The list of the programs one manages, drafting and editing, sending for review, closing and completing.
The applicants and attendance are in applicants.py (which finds the program through `program_for` here); the
members with enough local activities for the premium tier are in the activities domain (routes/activities/staff.py).
"""

from __future__ import annotations

from litestar import Request, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.i18n import to_tokyo
from app.rendering import page, see_other
from app.routes.forms import form_dict
from app.routes.programs.public import labels
from app.services.campaigns import campaigns
from app.services.programs import areas, programs, reads
from app.services.programs.programs import THEMES, ProgramInvalid
from app.services.review import revisions
from app.services.review.revisions import RevisionRefused
from app.services.review.workflow import WorkflowRefused
from app.services.shared import clock, social_posts
from app.services.shared.actor import Actor
from app.services.subsidy import rules as subsidy_rules
from db.engine import is_row_id

EDITORS = [guards.editor_or_staff]

WORKFLOW_REFUSALS = {
    "not_allowed": _l("This step is not possible in the program's current status."),
    "changed_meanwhile": _l("Someone changed this program in the meantime. Check it and try again."),
    "in_review": _l("The secretariat is reviewing this program. You can edit it again after their decision."),
    "reason_needed": _l("Enter a reason."),
    "no_revision": _l("No change is waiting for review any more: the secretariat may have decided on it already."),
}


def actor_of(request: Request) -> Actor:
    account = current_account(request)
    return Actor.of(account)


def _url(request: Request, name: str, **params) -> str:
    return request.app.route_reverse(name, **params)


def no_store(request: Request, template: str, context: dict, status_code: int = 200, fragment: str | None = None):
    return page(request, template, context, fragment=fragment, status_code=status_code, cache="no-store")


async def program_for(request: Request, program_id: int) -> dict:
    """The program if this person may manage it: 404 when there is none, 403 when it is another area's."""
    if not is_row_id(program_id):  # beyond the id column's range: simply not found
        raise NotFoundException()
    program = await reads.program_page(program_id, any_status=True)
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
    context = {"programs": await reads.managed_programs(actor), "actor": actor,
               "area_name": await areas.area_name(actor.area_id),
               "pending": await revisions.pending_ids(programs.REVISIONS), **labels()}
    return no_store(request, "programs/editor/list.html", context)


# Drafting and editing ------------------------------------------------------------------------------


def _input_time(moment) -> str:
    """A stored time as an <input type="datetime-local"> value in Tokyo time."""
    return to_tokyo(moment).strftime("%Y-%m-%dT%H:%M") if moment else ""


def values_of(program: dict) -> dict:
    return {
        "area": str(program["area"]), "kind": program["kind"], "title": program["title"], "summary": program["summary"],
        "body": program["body"], "themes": list(program["themes"]), "place": program["place"],
        "meeting_url": program["meeting_url"], "matching_url": program["matching_url"], "starts_at": _input_time(program["starts_at"]),
        "ends_at": _input_time(program["ends_at"]), "apply_from": _input_time(program["apply_from"]),
        "apply_until": _input_time(program["apply_until"]), "capacity": str(program["capacity"]),
        "premium_apply_from": _input_time(program.get("premium_apply_from")),
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
    return no_store(request, "programs/editor/form.html", await form_context(request, {}, {}))


@post("/editor/programs", name="create_program", guards=EDITORS)
async def create_program(request: Request) -> object:
    form = await form_dict(request)
    actor = actor_of(request)
    try:
        values = await programs.validate_program(form, actor)
    except ProgramInvalid as invalid:
        context = await form_context(request, values_from_form(form), invalid.errors)
        return no_store(request, "programs/editor/form.html", context, 422, fragment="programs/editor/_form.html")
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
    context["subsidy"] = await subsidy_rules.rules_of(program["id"])
    if program["status"] in programs.PUBLIC_STATUSES:
        settings = request.app.state.settings
        links = await campaigns.official_account_links(
            request.app.route_reverse("get_program", program_id=program["id"]), settings.base_url, clock.now())
        context["social_posts"] = social_posts.posts(
            program["title"], program["summary"], links, settings.branding.region_name, next((name for value, name in context["areas"] if value == str(program["area"])), ""),
            program["starts_at"], program["ends_at"], program["place"])
    # The form posts by HTMX into itself: errors and refusals come back as the form alone.
    return no_store(request, "programs/editor/form.html", context, status_code,
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


handlers = [
    list_editor_programs, new_program, create_program, edit_program, update_program, withdraw_program_revision,
    submit_program, close_program, complete_program,
]
