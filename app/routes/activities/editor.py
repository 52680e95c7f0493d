"""Designated local activities (担い手活動) for the people who run them: editors (their own area) and the
secretariat (every area). The list, the form, and the activity's page with its check-ins; recording check-ins
and the daily check-in codes are in check_ins.py, which finds the activity through `activity_for` here."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, FromQuery

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.rendering import page, see_other
from app.routes.forms import form_dict, single_values
from app.services.activities import activities, check_ins
from app.services.activities.activities import KINDS, ActivityInvalid, ActivityRefused
from app.services.activities.progress import HOW_LABELS
from app.services.membership import member_card
from app.services.programs import areas
from app.services.shared import clock
from app.services.shared.actor import Actor
from app.services.shared.signed_tokens import TokenError

EDITORS = [guards.editor_or_staff]
STATUSES = {"open": _l("Open for check-ins"), "cancelled": _l("Called off")}
CODE_MAX = 300  # a member card code is far shorter; anything longer is not one


def actor_of(request: Request) -> Actor:
    return Actor.of(current_account(request))


def no_store(request: Request, template: str, context: dict, status_code: int = 200, fragment: str | None = None):
    """Staff pages stay out of every cache: they hold members' names."""
    return page(request, template, context, fragment=fragment, status_code=status_code, cache="no-store")


def labels() -> dict:
    """The words for codes, for every activity template."""
    return {"kinds": {code: str(label) for code, label in KINDS.items()},
            "statuses": {code: str(label) for code, label in STATUSES.items()},
            "methods": {code: str(label) for code, label in HOW_LABELS.items()}}


async def activity_for(request: Request, activity_id: int) -> dict:
    """The activity if this person manages it: the 404 page when there is none, 403 when it is another area's."""
    try:
        return await activities.activity_for(activity_id, actor_of(request))
    except ActivityRefused as refused:
        raise (NotFoundException() if refused.reason == "not_found" else PermissionDeniedException()) from None


# The list ------------------------------------------------------------------------------------------


@get("/editor/activities", name="list_editor_activities", guards=EDITORS, cache_control=None)
async def list_editor_activities(request: Request) -> object:
    actor = actor_of(request)
    context = {"activities": await activities.activities_for(actor), "actor": actor,
               "area_name": await areas.area_name(actor.area_id), **labels()}
    return no_store(request, "activities/editor/list.html", context)


# The form ------------------------------------------------------------------------------------------


def values_of(activity: dict) -> dict:
    """A stored activity as the form shows it."""
    return {"title": activity["title"], "kind": activity["kind"], "description": activity["description"],
            "area": str(activity["area"]), "starts_on": activity["starts_on"].isoformat(),
            "ends_on": activity["ends_on"].isoformat(), "place": activity["place"], "map_url": activity["map_url"],
            "organiser": activity["organiser"], "counts_for_premium": "1" if activity["counts_for_premium"] else "",
            "capacity": "" if activity["capacity"] is None else str(activity["capacity"])}


async def form_page(request: Request, values: dict, errors: dict | None = None, activity: dict | None = None,
                    status_code: int = 200) -> object:
    actor = actor_of(request)
    area_rows = await areas.choices()
    context = {
        "values": {"kind": "volunteer", "counts_for_premium": "1", **values}, "errors": errors or {},
        "activity": activity, "actor": actor,
        "own_area": next((a["name"] for a in area_rows if a["id"] == actor.area_id), ""),
        "areas": [(str(a["id"]), a["name"]) for a in area_rows],
        "kind_choices": [(code, str(label)) for code, label in KINDS.items()],
    }
    # The form posts by HTMX into itself: its errors come back as the form alone.
    return no_store(request, "activities/editor/form.html", context, status_code,
                    fragment="activities/editor/_form.html")


@get("/editor/activities/new", name="new_activity", guards=EDITORS, cache_control=None)
async def new_activity(request: Request) -> object:
    return await form_page(request, {})


@post("/editor/activities", name="create_activity", guards=EDITORS)
async def create_activity(request: Request) -> object:
    form = single_values(await form_dict(request))
    actor = actor_of(request)
    try:
        values = await activities.validate_activity(form, actor)
    except ActivityInvalid as invalid:
        return await form_page(request, form, invalid.errors, status_code=422)
    activity_id = await activities.create_activity(actor, values)
    request.session["flash"] = _("The activity was saved. Show its check-in code at the venue.")
    return see_other(request, request.app.route_reverse("get_activity", activity_id=activity_id))


@get("/editor/activities/{activity_id:int}/edit", name="edit_activity", guards=EDITORS, cache_control=None)
async def edit_activity(request: Request, activity_id: FromPath[int]) -> object:
    activity = await activity_for(request, activity_id)
    return await form_page(request, values_of(activity), activity=activity)


@post("/editor/activities/{activity_id:int}", name="update_activity", guards=EDITORS)
async def update_activity(request: Request, activity_id: FromPath[int]) -> object:
    activity = await activity_for(request, activity_id)
    form = single_values(await form_dict(request))
    actor = actor_of(request)
    try:
        values = await activities.validate_activity(form, actor)
    except ActivityInvalid as invalid:
        return await form_page(request, form, invalid.errors, activity, 422)
    await activities.update_activity(activity_id, actor, values)
    request.session["flash"] = _("The activity was saved.")
    return see_other(request, request.app.route_reverse("get_activity", activity_id=activity_id))


async def _set_cancelled(request: Request, activity_id: int, cancelled: bool, done: str) -> object:
    await activity_for(request, activity_id)
    await activities.set_cancelled(activity_id, actor_of(request), cancelled)
    request.session["flash"] = done
    return see_other(request, request.app.route_reverse("get_activity", activity_id=activity_id))


@post("/editor/activities/{activity_id:int}/cancel", name="cancel_activity", guards=EDITORS)
async def cancel_activity(request: Request, activity_id: FromPath[int]) -> object:
    return await _set_cancelled(request, activity_id, True, _("The activity was called off. No more check-ins are taken."))


@post("/editor/activities/{activity_id:int}/reopen", name="reopen_activity", guards=EDITORS)
async def reopen_activity(request: Request, activity_id: FromPath[int]) -> object:
    return await _set_cancelled(request, activity_id, False, _("The activity takes check-ins again."))


# The activity's page: details, check-ins, the organiser's card scanner and the by-hand form ------------


async def activity_page(request: Request, activity: dict, *, code: str = "", found: dict | None = None,
                        hand: dict | None = None, errors: dict | None = None, status_code: int = 200) -> object:
    """The page, with what was typed into either form kept next to its message."""
    context = {
        "activity": activity, "check_ins": await check_ins.check_ins_of(activity["id"], actor_of(request)),
        "code": code, "found": found, "hand": {"member_no": "", "day": "", "reason": "", **(hand or {})},
        "errors": errors or {}, "today": clock.today_in_japan(), **labels(),
    }
    return no_store(request, "activities/editor/activity.html", context, status_code)


@get("/editor/activities/{activity_id:int}", name="get_activity", guards=EDITORS, cache_control=None)
async def get_activity(request: Request, activity_id: FromPath[int], code: FromQuery[str] = "") -> object:
    """The scanner opens this page with ?code=…: it shows whose card it is, to check in with one tap."""
    activity = await activity_for(request, activity_id)
    code = code.strip()[:CODE_MAX]
    found, errors = None, {}
    if code:
        try:
            found = await member_card.card_holder(request.app.state.signer, code, clock.now())
        except TokenError as exc:
            errors["code"] = str(member_card.CARD_REFUSALS[exc.reason])
    return await activity_page(request, activity, code=code, found=found, errors=errors,
                               status_code=422 if errors else 200)


handlers = [
    list_editor_activities, new_activity, create_activity, edit_activity, update_activity, cancel_activity,
    reopen_activity, get_activity,
]
