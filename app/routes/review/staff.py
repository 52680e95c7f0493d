"""The secretariat's review queue: preview, approve, send back with a reason, unpublish; and the changes editors
made to public programs and articles, approved (applied) or sent back (discarded) the same way."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.push_sender import wake_sender
from app.rendering import page, see_other
from app.routes.forms import form_dict
from app.services.activities import progress
from app.services.notify import push_notifications
from app.services.programs import areas
from app.services.review import moderation
from app.services.review.revisions import RevisionRefused
from app.services.review.workflow import WorkflowRefused
from app.services.shared.actor import Actor

REFUSALS = {
    "not_found": _l("It no longer exists."),
    "not_allowed": _l("This decision is not possible in its current state."),
    "reason_needed": _l("Write the reason: the author will read it."),
    "changed_meanwhile": _l("Someone else changed it in the meantime. Look at it again."),
    "not_your_area": _l("This belongs to another area."),
}
REVISION_REFUSALS = {
    **REFUSALS,
    "not_found": _l("This change is no longer waiting: it was withdrawn or decided already."),
    "not_public": _l("It is no longer public, so the change cannot be applied. Send the change back."),
    "capacity": _l("The proposed capacity (%(capacity)d) is below the %(count)d people already accepted. "
                   "Send the change back with a reason, or ask the editor to keep more seats."),
}


def revision_refusal(refused: RevisionRefused) -> str:
    message = str(REVISION_REFUSALS.get(refused.reason, REFUSALS["not_allowed"]))
    return message % refused.details if refused.details else message


def _number(text: object) -> int:
    """A whole number typed into a form, or 0 (which matches no version) for anything else."""
    text = str(text)
    return int(text) if text.isascii() and text.isdecimal() and len(text) <= 9 else 0


def actor(request: Request) -> Actor:
    account = current_account(request)
    return Actor.of(account)


@get("/staff/moderation", name="list_moderation", guards=[guards.staff], cache_control=None)
async def list_moderation(
    request: Request, kind: FromQuery[str] = "", area: FromQuery[str] = "", show: FromQuery[str] = ""
) -> object:
    area_id = int(area) if area.isdigit() else None
    kind = kind if kind in moderation.QUEUE_KINDS else ""
    items = await (moderation.published(kind, area_id) if show == "published" else moderation.queue(kind, area_id))
    context = {
        "items": items,
        "show": "published" if show == "published" else "submitted",
        "kind": kind,
        "area": area_id,
        "areas": await areas.choices(),
        "error": "",
        "how_labels": progress.HOW_LABELS,
    }
    return page(request, "review/moderation.html", context, fragment="review/_moderation_rows.html", cache="no-store")


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
            settings = request.app.state.settings
            if await push_notifications.announce_program(item_id, current_account(request).id, settings.default_locale):
                wake_sender(request)
        request.session["flash"] = {
            "approve": _("Published."), "reject": _("Sent back to the author."), "unpublish": _("Unpublished."),
        }.get(decision, _("Saved."))
    return see_other(request, request.app.route_reverse("list_moderation"))


@post("/staff/moderation/revisions/{revision_id:int}", name="decide_revision", guards=[guards.staff])
async def decide_revision(request: Request, revision_id: FromPath[int]) -> object:
    """Approve a change to a public item (applied at once) or send it back with a reason (discarded). The form
    names the version it showed, so a change replaced by the editor meanwhile is not approved unseen.
    Never announced by push: that is for a program's first publication only."""
    form = await form_dict(request)
    decision = str(form.get("decision", ""))
    try:
        await moderation.decide_revision(revision_id, _number(form.get("version", "")), decision, actor(request),
                                         str(form.get("reason", "")))
    except RevisionRefused as refused:
        request.session["flash"] = revision_refusal(refused)
    else:
        request.session["flash"] = {
            "approve": _("The change was approved. The public page shows it now."),
            "reject": _("The change was sent back to the author. The public page is unchanged."),
        }[decision]
    return see_other(request, request.app.route_reverse("list_moderation"))


handlers = [list_moderation, decide_moderation, decide_revision]
