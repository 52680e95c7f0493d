"""The secretariat's review queue: preview, approve, send back with a reason, unpublish."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.rendering import page, see_other
from app.routes.forms import form_dict
from app.routes.programs import detail_context
from app.routes.push import announce_program
from app.services import moderation
from app.services.programs import Actor, WorkflowRefused
from db.tables import Area, Program

REFUSALS = {
    "not_found": _l("It no longer exists."),
    "not_allowed": _l("This decision is not possible in its current state."),
    "reason_needed": _l("Write the reason: the author will read it."),
    "changed_meanwhile": _l("Someone else changed it in the meantime. Look at it again."),
    "not_your_area": _l("This belongs to another area."),
}


def actor(request: Request) -> Actor:
    account = current_account(request)
    return Actor(account.id, account.role, account.area_id)


@get("/staff/moderation", name="list_moderation", guards=[guards.staff], cache_control=None)
async def list_moderation(
    request: Request, kind: FromQuery[str] = "", area: FromQuery[str] = "", show: FromQuery[str] = ""
) -> object:
    area_id = int(area) if area.isdigit() else None
    kind = kind if kind in moderation.KINDS else ""
    items = await (moderation.published(kind, area_id) if show == "published" else moderation.queue(kind, area_id))
    context = {
        "items": items,
        "show": "published" if show == "published" else "submitted",
        "kind": kind,
        "area": area_id,
        "areas": await Area.select(Area.id, Area.name).order_by(Area.position),
        "error": "",
    }
    return page(request, "staff/moderation.html", context, fragment="staff/_moderation_rows.html", cache="no-store")


@post("/staff/moderation/{item_kind:str}/{item_id:int}", name="decide_moderation", guards=[guards.staff])
async def decide_moderation(request: Request, item_kind: FromPath[str], item_id: FromPath[int]) -> object:
    if item_kind not in moderation.KINDS:
        raise NotFoundException()
    form = await form_dict(request)
    decision = str(form.get("decision", ""))
    try:
        await moderation.decide(item_kind, item_id, decision, actor(request), str(form.get("reason", "")))
    except WorkflowRefused as refused:
        request.session["flash"] = str(REFUSALS.get(refused.reason, REFUSALS["not_allowed"]))
    else:
        if item_kind == "program" and decision == "approve":
            await announce_program(request, item_id)
        request.session["flash"] = {
            "approve": _("Published."), "reject": _("Sent back to the author."), "unpublish": _("Unpublished."),
        }.get(decision, _("Saved."))
    return see_other(request, request.app.route_reverse("list_moderation"))


@get("/staff/preview/program/{program_id:int}", name="get_program_preview", guards=[guards.staff], cache_control=None)
async def get_program_preview(request: Request, program_id: FromPath[int]) -> object:
    """The program page exactly as the public will see it, whatever its status now."""
    program = await Program.select(*Program.all_columns(), Program.area.name.as_alias("area_name")).where(
        Program.id == program_id
    ).first().output(load_json=True)
    if program is None:
        raise NotFoundException()
    return page(request, "programs/detail.html", await detail_context(request, program), cache="no-store")


handlers = [list_moderation, decide_moderation, get_program_preview]
