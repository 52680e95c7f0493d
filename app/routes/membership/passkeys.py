"""Passkey ceremonies over JSON: logging in, and creating a passkey for whichever flow started one
(registration, another device, recovery, an invitation). The flow is kept in the server-side session."""

from __future__ import annotations

import time

from litestar import Request, get, post
from litestar.response import Response

from app.auth import auth_cookie, current_account
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.rate_limit import auth_rate_limit
from app.rendering import page, safe_next, see_other
from app.routes.membership.mail_links import send_confirmation_mail
from app.services.campaigns import campaigns
from app.services.membership import login_sessions, membership, one_time_links, passkeys
from app.services.membership.passkeys import PasskeyError, RelyingParty
from app.services.shared.devices import device_label
from app.sessions import noted_campaign, rotate_session
from app.settings import Settings
from db.engine import is_unique_violation

CEREMONY = "ceremony"
CEREMONY_TTL_S = 30 * 60
LOGIN_CHALLENGES = "login_challenges"
# The login page may ask for options twice (autofill, then the button): the newest few stay answerable.
PENDING_LOGINS = 3

MESSAGES = {
    "challenge_invalid": _l("This attempt has expired. Please try again."),
    "malformed": _l("The passkey answer could not be read. Please try again."),
    "wrong_origin": _l("This passkey answer came from another site and was refused."),
    "wrong_rp_id": _l("This passkey belongs to another site and was refused."),
    "user_not_verified": _l("Unlock your device (fingerprint, face or PIN) to use the passkey."),
    "sign_count_regressed": _l("This passkey looks copied and was refused. Use another passkey or recover your account."),
    "user_handle_mismatch": _l("This passkey does not match its account and was refused."),
    "unknown_credential": _l("This passkey is not registered here. Register first, or use another passkey."),
    "already_registered": _l("This passkey is already registered."),
    "verification_failed": _l("The passkey could not be verified. Please try again."),
    "no_ceremony": _l("This page has expired. Please start again."),
    "invitation_used": _l("This invitation has already been used or has expired. Ask the secretariat for a new one."),
    "last_passkey": _l("This is your only passkey. Confirm your e-mail address or add another passkey first."),
    "not_found": _l("That passkey was not found."),
}


def passkey_message(code: str) -> str:
    return str(MESSAGES.get(code, MESSAGES["verification_failed"]))


def relying_party(settings: Settings) -> RelyingParty:
    return RelyingParty(rp_id=settings.webauthn_rp_id, name=settings.branding.site_name, origins=settings.webauthn_origins)


def refusal(code: str, status_code: int = 400) -> Response:
    return Response({"code": code, "detail": passkey_message(code)}, status_code=status_code)


def landing_for(request: Request, role: str) -> str:
    """Where each role starts after logging in."""
    name = {"member": "get_card", "staff": "staff_home", "shop": "shop_home", "editor": "list_editor_programs"}.get(role, "get_account")
    return request.app.route_reverse(name)


async def start_session(request: Request, account_id: int, redirect: str) -> Response:
    """A fresh login session: a new token, whatever the browser held before."""
    settings: Settings = request.app.state.settings
    token = await login_sessions.start(account_id, request.headers.get("user-agent", ""))
    request.session.pop(CEREMONY, None)
    rotate_session(request)
    return Response({"redirect": safe_next(redirect)}, cookies=[auth_cookie(token, settings.secure_cookies)])


def begin_ceremony(request: Request, kind: str, **data) -> None:
    """A registration, recovery, invitation or new passkey starts: in a session under a new id, so only the
    browser that started it can finish it (app/sessions.py)."""
    rotate_session(request)
    request.session[CEREMONY] = {"kind": kind, "started": time.time(), **data}


def ceremony(request: Request) -> dict | None:
    value = request.session.get(CEREMONY)
    if not isinstance(value, dict) or time.time() - value.get("started", 0) > CEREMONY_TTL_S:
        return None
    if value["kind"] == "add":
        account = current_account(request)
        if account is None or account.id != value.get("account_id"):
            return None
    return value


@post("/passkeys/login/options", name="create_login_options", guards=[auth_rate_limit])
async def create_login_options(request: Request) -> Response:
    challenge = await passkeys.issue_challenge("login")
    pending = request.session.get(LOGIN_CHALLENGES) or []
    request.session[LOGIN_CHALLENGES] = [*pending[-(PENDING_LOGINS - 1):], challenge]
    options = passkeys.authentication_options(relying_party(request.app.state.settings), challenge)
    return Response(options, media_type="application/json", headers={"Cache-Control": "no-store"})


@post("/passkeys/login", name="verify_login", guards=[auth_rate_limit])
async def verify_login(request: Request) -> Response:
    pending = request.session.get(LOGIN_CHALLENGES) or []
    try:
        credential = passkeys.parse_credential(await request.body())
        expected = passkeys.client_challenge(credential)
        if expected not in pending:
            raise PasskeyError("challenge_invalid")
        request.session[LOGIN_CHALLENGES] = [c for c in pending if c != expected]
        result = await passkeys.authenticate(relying_party(request.app.state.settings), credential, expected)
    except PasskeyError as exc:
        return refusal(exc.reason)
    target = safe_next(str(credential["next"])) if credential.get("next") else landing_for(request, result.role)
    return await start_session(request, result.account_id, target)


@get("/passkeys/new", name="get_new_passkey", cache_control=None)
async def get_new_passkey(request: Request) -> object:
    flow = ceremony(request)
    if flow is None:
        return see_other(request, request.app.route_reverse("get_home"))
    return page(request, "membership/passkeys/new.html", {"flow": flow}, cache="no-store")


@post("/passkeys/new/options", name="create_passkey_options", guards=[auth_rate_limit])
async def create_passkey_options(request: Request) -> Response:
    flow = ceremony(request)
    if flow is None:
        return refusal("no_ceremony")
    settings: Settings = request.app.state.settings
    exclude: list[str] = []
    if flow["kind"] in ("add", "recover"):
        exclude = await passkeys.credential_ids(flow["account_id"])
    challenge = await passkeys.issue_challenge("register")
    flow["challenge"] = challenge
    request.session[CEREMONY] = flow
    options = passkeys.registration_options(
        relying_party(settings),
        challenge,
        user_handle=flow["user_handle"],
        user_name=flow.get("user_name") or flow["display_name"],
        display_name=flow["display_name"],
        exclude=exclude,
    )
    return Response(options, media_type="application/json", headers={"Cache-Control": "no-store"})


@post("/passkeys/new", name="verify_new_passkey", guards=[auth_rate_limit])
async def verify_new_passkey(request: Request) -> Response:
    flow = ceremony(request)
    if flow is None or not flow.get("challenge"):
        return refusal("no_ceremony")
    settings: Settings = request.app.state.settings
    label = device_label(request.headers.get("user-agent", ""))
    try:
        credential = passkeys.parse_credential(await request.body())
        new = await passkeys.verify_new_passkey(relying_party(settings), credential, flow.pop("challenge"), "register")
    except PasskeyError as exc:
        request.session[CEREMONY] = flow
        return refusal(exc.reason)

    try:
        return await finish_ceremony(request, flow, new, label)
    except Exception as exc:
        # Two devices finishing with the same credential at once: the unique index lets one through.
        if is_unique_violation(exc):
            return refusal("already_registered")
        raise


async def finish_ceremony(request: Request, flow: dict, new: passkeys.NewPasskey, label: str) -> Response:
    settings: Settings = request.app.state.settings
    kind = flow["kind"]
    if kind == "register":
        profile = membership.profile_from_dict(flow["profile"])
        registered = await membership.register_member(
            profile, flow["user_handle"], new, label, settings.branding.member_no_prefix,
            await campaigns.campaign_to_record(None, noted_campaign(request.session)),
        )
        if profile.email:
            await send_confirmation_mail(request, registered.account_id, profile.email)
        return await start_session(request, registered.account_id, request.app.route_reverse("get_welcome"))
    if kind == "invite":
        enrolled = await one_time_links.accept_invitation(flow["token"], flow["display_name"], flow["user_handle"], new)
        if enrolled is None:
            request.session.pop(CEREMONY, None)
            return refusal("invitation_used", 410)
        return await start_session(request, enrolled.account_id, landing_for(request, enrolled.role))
    await passkeys.add_passkey(flow["account_id"], new, label)
    if kind == "recover":
        # The lost device may still hold a session: recovery ends every one of them.
        await login_sessions.end_all(flow["account_id"])
        if flow.get("first"):  # an imported account claimed: a welcome, and the card to show
            request.session["flash"] = _("Welcome to %(site)s. Your account is ready: this is your member card.",
                                         site=settings.branding.site_name)
            return await start_session(request, flow["account_id"], request.app.route_reverse("get_card"))
        request.session["flash"] = _("Welcome back. If your old phone is lost, remove its passkey below.")
        return await start_session(request, flow["account_id"], request.app.route_reverse("list_passkeys"))
    request.session.pop(CEREMONY, None)
    request.session["flash"] = _("The passkey was added.")
    return Response({"redirect": request.app.route_reverse("list_passkeys")})


handlers = [get_new_passkey, create_login_options, verify_login, create_passkey_options, verify_new_passkey]
