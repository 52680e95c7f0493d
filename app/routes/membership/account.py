"""A logged-in person's own account: profile, passkeys, devices, their data, leaving."""

from __future__ import annotations

import json

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Response

from app import guards
from app.auth import cleared_auth_cookie, current_account
from app.i18n import gettext as _
from app.page_cache import MEMBER_PAGE
from app.qr import qr_svg
from app.rendering import page, see_other
from app.routes.forms import form_dict
from app.routes.membership.mail_links import send_confirmation_mail
from app.routes.membership.passkeys import begin_ceremony, passkey_message
from app.routes.membership.profile_form import profile_form_context
from app.services.activities import progress
from app.services.membership import data_export, erasure, login_sessions, membership, one_time_links, passkeys
from app.services.membership.membership import ProfileInvalid
from app.services.membership.passkeys import PasskeyError
from app.services.notify import line_links
from app.services.shared import clock, exports
from app.services.shared.devices import device_label


def flash(request: Request, message: str) -> None:
    request.session["flash"] = message


@get("/account", name="get_account", guards=[guards.logged_in], cache_control=None, opt=MEMBER_PAGE)
async def get_account(request: Request) -> object:
    account = current_account(request)
    member = await membership.member_for_account(account.id) if account.is_member else None
    context = {"account": account, "member": member,
               "progress": await progress.progress(member["id"], clock.now()) if member else None,
               "line": await _line_card(request, account.id) if member else None}
    return page(request, "membership/account/index.html", context, cache="no-store")


async def _line_card(request: Request, account_id: int) -> dict | None:
    """The LINE card's content, when the official account is set up."""
    line = request.app.state.settings.line
    if not line.enabled:
        return None
    qr = qr_svg(line.add_friend_url, _("QR code to add the official account in LINE")) if line.add_friend_url else ""
    return {"add_friend_url": line.add_friend_url, "qr": qr, "link": await line_links.link_of(account_id)}


@get("/account/profile", name="get_profile", guards=[guards.member], cache_control=None)
async def get_profile(request: Request) -> object:
    account = current_account(request)
    member = await membership.member_for_account(account.id)
    areas = await membership.followed_areas(member["id"])
    profile = membership.Profile(
        display_name=account.display_name,
        email=account.email or "",
        **{name: member[name] for name in membership.MEMBER_FIELDS},
        area_ids=[a["id"] for a in areas],
    )
    context = await profile_form_context(profile, {})
    return page(request, "membership/account/profile.html", context, fragment="membership/account/_profile_form.html", cache="no-store")


@post("/account/profile", name="update_profile", guards=[guards.member])
async def update_profile(request: Request) -> object:
    account = current_account(request)
    try:
        profile = await membership.validate_profile(await form_dict(request), require_consent=False)
    except ProfileInvalid as invalid:
        context = await profile_form_context(invalid.values, invalid.errors)
        return page(request, "membership/account/profile.html", context, fragment="membership/account/_profile_form.html", status_code=422, cache="no-store")
    email_changed = await membership.update_profile(account.id, profile)
    if email_changed and profile.email:
        await send_confirmation_mail(request, account.id, profile.email)
        flash(request, _("Saved. We sent a confirmation link to %(email)s.", email=profile.email))
    else:
        flash(request, _("Saved."))
    return see_other(request, request.app.route_reverse("get_account"))


@post("/account/email/confirm", name="resend_confirmation", guards=[guards.logged_in])
async def resend_confirmation(request: Request) -> object:
    account = current_account(request)
    if account.email and not account.email_verified:
        sent = await send_confirmation_mail(request, account.id, account.email)
        flash(request, _("We sent a confirmation link to %(email)s.", email=account.email) if sent
              else _("The mail could not be sent just now. Please try again later."))
    return see_other(request, request.app.route_reverse("get_account"))


@get("/confirm-email/{token:str}", name="confirm_email", cache_control=None)
async def confirm_email(request: Request, token: FromPath[str]) -> object:
    confirmed = await one_time_links.confirm_email(token)
    return page(request, "membership/account/email_confirmed.html", {"confirmed": confirmed},
                status_code=200 if confirmed else 410, cache="no-store")


@get("/account/passkeys", name="list_passkeys", guards=[guards.logged_in], cache_control=None)
async def list_passkeys(request: Request) -> object:
    account = current_account(request)
    rows = await passkeys.list_passkeys(account.id)
    return page(request, "membership/account/passkeys.html", {"passkeys": rows, "account": account},
                fragment="membership/account/_passkey_rows.html", cache="no-store")


@post("/account/passkeys/add", name="add_passkey", guards=[guards.logged_in])
async def add_passkey(request: Request) -> object:
    account = current_account(request)
    begin_ceremony(request, "add", account_id=account.id, user_handle=await passkeys.user_handle(account.id),
                   display_name=account.display_name, user_name=account.email or account.display_name)
    return see_other(request, request.app.route_reverse("get_new_passkey"))


@post("/account/passkeys/{passkey_id:int}/rename", name="rename_passkey", guards=[guards.logged_in])
async def rename_passkey(request: Request, passkey_id: FromPath[int]) -> object:
    name = str((await form_dict(request)).get("name", "")).strip()
    if not name or len(name) > 60:
        flash(request, _("Give the passkey a name of 60 characters or fewer."))
    elif await passkeys.rename_passkey(current_account(request).id, passkey_id, name):
        flash(request, _("Renamed."))
    return see_other(request, request.app.route_reverse("list_passkeys"))


@post("/account/passkeys/{passkey_id:int}/delete", name="remove_passkey", guards=[guards.logged_in])
async def remove_passkey(request: Request, passkey_id: FromPath[int]) -> object:
    try:
        await passkeys.remove_passkey(current_account(request).id, passkey_id)
        flash(request, _("The passkey was removed."))
    except PasskeyError as exc:
        flash(request, passkey_message(exc.reason))
    return see_other(request, request.app.route_reverse("list_passkeys"))


@get("/account/sessions", name="list_sessions", guards=[guards.logged_in], cache_control=None)
async def list_sessions(request: Request) -> object:
    account = current_account(request)
    rows = [
        {**row, "device": device_label(row["user_agent"]), "current": row["id"] == account.session_id}
        for row in await login_sessions.list_for(account.id)
    ]
    return page(request, "membership/account/sessions.html", {"sessions": rows}, cache="no-store")


@post("/account/sessions/{session_id:int}/end", name="end_session", guards=[guards.logged_in])
async def end_session(request: Request, session_id: FromPath[int]) -> object:
    account = current_account(request)
    if session_id != account.session_id and await login_sessions.end_one(account.id, session_id):
        flash(request, _("That device was logged out."))
    return see_other(request, request.app.route_reverse("list_sessions"))


@post("/account/sessions/end-others", name="end_other_sessions", guards=[guards.logged_in])
async def end_other_sessions(request: Request) -> object:
    account = current_account(request)
    count = await login_sessions.end_others(account.id, account.session_id)
    flash(request, _("%(count)d other devices were logged out.", count=count))
    return see_other(request, request.app.route_reverse("list_sessions"))


@get("/account/data", name="download_my_data", guards=[guards.logged_in], cache_control=None)
async def download_my_data(request: Request) -> Response:
    account_id = current_account(request).id
    data = await data_export.export_data(account_id)
    await exports.record_export(account_id, "account", str(account_id), {"kind": "my_data"}, clock.now(), file_type="json")
    body = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    return Response(
        body,
        media_type="application/json; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="tsunagu-my-data.json"', "Cache-Control": "no-store"},
    )


@get("/account/delete", name="get_delete_account", guards=[guards.member], cache_control=None)
async def get_delete_account(request: Request) -> object:
    return page(request, "membership/account/delete.html", {"error": ""}, cache="no-store")


@post("/account/delete", name="delete_account", guards=[guards.member])
async def delete_account(request: Request) -> object:
    form = await form_dict(request)
    if form.get("confirm") != "delete":
        return page(request, "membership/account/delete.html", {"error": _("Tick the box to confirm.")}, status_code=422, cache="no-store")
    await erasure.delete_account(current_account(request).id, var_dir=request.app.state.settings.var_dir)
    request.clear_session()
    response = see_other(request, request.app.route_reverse("get_account_deleted"))
    response.cookies.append(cleared_auth_cookie(request.app.state.settings.secure_cookies))
    return response


@get("/account/deleted", name="get_account_deleted", cache_control=None)
async def get_account_deleted(request: Request) -> object:
    """Open to anyone: the person it is for has no account any more, so nothing on it is theirs."""
    return page(request, "membership/account/deleted.html", cache="no-store")


handlers = [
    get_account, get_profile, update_profile, resend_confirmation, confirm_email, list_passkeys, add_passkey,
    rename_passkey, remove_passkey, list_sessions, end_session, end_other_sessions, download_my_data,
    get_delete_account, delete_account, get_account_deleted,
]
