"""The member's side of designated activities (担い手活動): checking in by scanning the venue's code (the page
decides on the phone and keeps the check-in until it is sent), and the member's own activities and progress
toward the premium tier. The rules are in app/services/activities/."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.response import Response

from app import guards
from app.auth import current_account
from app.i18n import lazy_gettext as _l
from app.page_cache import LEAVES_PUBLIC_PAGES
from app.rendering import page
from app.routes import queued
from app.services.activities import check_ins, progress
from app.services.activities.check_ins import CheckInRefused
from app.services.membership import membership
from app.services.shared import clock

# What the endpoint itself refuses before the rules are asked; the rules' own refusals word themselves.
REFUSALS = {
    "bad_json": queued.BAD_JSON,
    "other_member": _l("This check-in was scanned while another member was logged in on this phone. "
                       "It is sent when that member logs in again."),
}


@post("/activities/check-ins", name="create_check_in", guards=[guards.member], status_code=200, opt=LEAVES_PUBLIC_PAGES)
async def create_check_in(request: Request) -> Response:
    """A check-in the phone kept: {code, nonce, scanned_at, member_no?}, sent by offline_queue.js with the CSRF
    header, from the page or the service worker. Answers {status: recorded | already, title, day}, or
    {status: refused, reason, detail} for the phone to show and drop; anything else, the phone keeps it."""
    member = await membership.member_for_account(current_account(request).id)
    data = await queued.json_body(request)
    if not isinstance(data, dict):
        return queued.refused("bad_json", str(REFUSALS["bad_json"]), 400)
    code, nonce, scanned = data.get("code"), data.get("nonce"), data.get("scanned_at")
    if not isinstance(code, str) or not isinstance(nonce, str) or scanned is None:
        return queued.refused("missing", str(REFUSALS["bad_json"]), 422)
    scanned_at = queued.scanned_at_from(scanned)
    if scanned_at is None:
        return queued.refused("bad_time", str(REFUSALS["bad_json"]), 422)
    # The phone keeps check-ins across logins; one scanned for another member waits for them (409: kept).
    member_no = data.get("member_no")
    if member_no is not None and member_no != member["member_no"]:
        return queued.refused("other_member", str(REFUSALS["other_member"]), 409)
    try:
        recorded = await check_ins.with_code(request.app.state.signer, code[:300], member["id"], nonce[:100],
                                             scanned_at, clock.now())
    except CheckInRefused as refused:
        return queued.refused(refused.reason, refused.message, 422)
    return queued.answer({"status": "recorded" if recorded.first else "already",
                          "activity_id": recorded.activity_id, "title": recorded.title, "day": recorded.day.isoformat()})


@get("/activities/check-in", name="get_check_in", guards=[guards.member], cache_control=None)
async def get_check_in(request: Request) -> object:
    member = await membership.member_for_account(current_account(request).id)
    context = {"member": member, "rules": check_ins.phone_rules(request.app.state.signer)}
    # no-cache (not no-store): the service worker keeps it, so the page opens at a venue with no signal.
    return page(request, "activities/check_in.html", context)


@get("/account/activities", name="list_my_activities", guards=[guards.member], cache_control=None)
async def list_my_activities(request: Request) -> object:
    member = await membership.member_for_account(current_account(request).id)
    now = clock.now()
    context = {
        "progress": await progress.progress(member["id"], now),
        "earlier": await progress.earlier_years(member["id"], now),
        "how_labels": progress.HOW_LABELS,
    }
    return page(request, "activities/mine.html", context)


handlers = [create_check_in, get_check_in, list_my_activities]
