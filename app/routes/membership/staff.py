"""The secretariat's pages for accounts: invitations, members and their tier, desk recovery."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, QueryParameter

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.i18n import to_tokyo
from app.qr import qr_svg
from app.rendering import page, see_other
from app.routes.forms import form_dict, page_number
from app.routes.membership.mail_links import absolute
from app.services.audit import log as audit_log
from app.services.membership import membership, one_time_links
from app.services.membership.membership import TIER_LABELS
from app.services.programs import areas
from app.services.shared import clock
from app.services.shared.reference import prefecture_name
from app.services.wallet import shops

MEMBERS_PAGE = 50
INVITATION_PROBLEMS = {
    "role": _l("Choose a role."),
    "area": _l("Choose the area this editor works for."),
    "shop": _l("Choose the shop this account belongs to."),
}


async def invitation_context(error: str = "") -> dict:
    return {
        "invitations": await one_time_links.list_invitations(),
        "areas": await areas.choices(),
        "shops": await shops.shop_choices(),
        "error": error,
        "now": clock.now(),
    }


@get("/staff/invitations", name="list_invitations", guards=[guards.staff], cache_control=None)
async def list_invitations(request: Request) -> object:
    return page(request, "membership/staff/invitations.html", await invitation_context(), cache="no-store")


def _int_or_none(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


@post("/staff/invitations", name="create_invitation", guards=[guards.staff])
async def create_invitation(request: Request) -> object:
    form = await form_dict(request)
    role = str(form.get("role", ""))
    area_id = _int_or_none(form.get("area")) if role == "editor" else None
    shop_id = _int_or_none(form.get("shop")) if role == "shop" else None
    problem = await one_time_links.invitation_problem(role, area_id, shop_id)
    if problem:
        error = str(INVITATION_PROBLEMS[problem])
        return page(request, "membership/staff/invitations.html", await invitation_context(error), status_code=422, cache="no-store")
    token = await one_time_links.create_invitation(
        role, current_account(request).id, area_id=area_id, shop_id=shop_id, note=str(form.get("note", ""))
    )
    link = absolute(request, "get_invitation", token=token)
    # The link is shown this once: only its hash is stored.
    return page(request, "membership/staff/invitation_created.html", {"link": link, "qr": qr_svg(link, _("Invitation QR code")), "role": role}, cache="no-store")


@get("/staff/members", name="list_members", guards=[guards.staff], cache_control=None)
async def list_members(request: Request, q: FromQuery[str] = "", order: FromQuery[str] = "newest",
                       page_no: Annotated[str, QueryParameter(name="page")] = "1") -> object:
    term = q.strip()[:50]
    order = order if order in membership.MEMBER_ORDERS else "newest"
    number = page_number(page_no)
    # One row more than a page tells whether there is a next one.
    found = await membership.search_members(term, MEMBERS_PAGE + 1, offset=(number - 1) * MEMBERS_PAGE, order=order)
    rows = [{**row, "prefecture": prefecture_name(row["home_prefecture"])} for row in found[:MEMBERS_PAGE]]

    def list_url(**changes) -> str:
        query = {"q": term, "order": order, "page": number, **changes}
        return request.app.route_reverse("list_members") + "?" + urlencode({k: v for k, v in query.items() if v not in ("", 1, "1")})

    context = {"members": rows, "q": term, "order": order, "page": number, "has_next": len(found) > MEMBERS_PAGE,
               "list_url": list_url, "page_url": lambda n: list_url(page=n), "tier_label": lambda tier: str(TIER_LABELS.get(tier, tier))}
    return page(request, "membership/staff/members.html", context, fragment="membership/staff/_member_rows.html", cache="no-store")


async def member_context(member_id: int) -> dict | None:
    member = await membership.member_details(member_id)
    if member is None:
        return None
    return {
        "member": member,
        "prefecture": prefecture_name(member["home_prefecture"]),
        "areas": await membership.followed_areas(member_id),
        "tier": membership.effective_tier(member, to_tokyo(clock.now()).date()),
        "error": "",
    }


@get("/staff/members/{member_id:int}", name="get_member", guards=[guards.staff], cache_control=None)
async def get_member(request: Request, member_id: FromPath[int]) -> object:
    context = await member_context(member_id)
    if context is None:
        raise NotFoundException()
    # Personal data on screen: who looked at whom is in the audit log.
    await audit_log.record_view(current_account(request).id, "member", member_id, clock.now())
    return page(request, "membership/staff/member.html", context, cache="no-store")


@post("/staff/members/{member_id:int}/tier", name="set_member_tier", guards=[guards.staff])
async def set_member_tier(request: Request, member_id: FromPath[int]) -> object:
    context = await member_context(member_id)
    if context is None:
        raise NotFoundException()
    form = await form_dict(request)
    tier = str(form.get("tier", ""))
    until = None
    error = ""
    if tier not in membership.TIERS:
        error = _("Choose a tier.")
    elif tier == "premium":
        try:
            until = date.fromisoformat(str(form.get("premium_until", "")))
        except ValueError:
            error = _("Enter the renewal date.")
        else:
            if until < clock.now().date():
                error = _("The renewal date must not be in the past.")
    if error:
        context["error"] = error
        return page(request, "membership/staff/member.html", context, status_code=422, cache="no-store")
    await membership.set_tier(current_account(request).id, member_id, tier, until)
    request.session["flash"] = _("The tier was updated.")
    return see_other(request, request.app.route_reverse("get_member", member_id=member_id))


@post("/staff/members/{member_id:int}/recovery", name="issue_desk_recovery", guards=[guards.staff])
async def issue_desk_recovery(request: Request, member_id: FromPath[int]) -> object:
    context = await member_context(member_id)
    if context is None or context["member"]["account.status"] != "active":
        raise NotFoundException()
    account_id = context["member"]["account.id"]
    token = await one_time_links.issue_desk_recovery(account_id, current_account(request).id)
    link = absolute(request, "use_recovery_link", token=token)
    return page(request, "membership/staff/recovery_qr.html", {**context, "link": link, "qr": qr_svg(link, _("Recovery QR code"))}, cache="no-store")


handlers = [list_invitations, create_invitation, list_members, get_member, set_member_tier, issue_desk_recovery]
