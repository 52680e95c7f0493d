"""Registration as a furusato resident: profile first, then a passkey (routes/passkeys.py finishes it)."""

from litestar import Request, get, post
from litestar.response import Response

from app.auth import current_account
from app.rate_limit import auth_rate_limit
from app.rendering import page, see_other
from app.routes.forms import form_dict
from app.routes.membership.passkeys import begin_ceremony
from app.routes.membership.profile_form import profile_form_context
from app.services.membership import membership, passkeys
from app.services.membership.membership import ProfileInvalid
from app.services.notify import push_subscriptions
from app.services.wallet import member_passes


@get("/register", name="get_register", cache_control=None)
async def get_register(request: Request) -> object:
    if current_account(request) is not None:
        return see_other(request, request.app.route_reverse("get_card"))
    pending = (request.session.get("ceremony") or {}).get("profile")
    profile = membership.profile_from_dict(pending) if pending else membership.Profile()
    context = await profile_form_context(profile, {})
    return page(request, "membership/register/form.html", context, fragment="membership/register/_form.html", cache="no-store")


@post("/register", name="submit_registration", guards=[auth_rate_limit])
async def submit_registration(request: Request) -> Response | object:
    form = await form_dict(request)
    try:
        profile = await membership.validate_profile(form, require_consent=True)
    except ProfileInvalid as invalid:
        context = await profile_form_context(invalid.values, invalid.errors)
        return page(request, "membership/register/form.html", context, fragment="membership/register/_form.html", status_code=422, cache="no-store")
    begin_ceremony(
        request,
        "register",
        profile=profile.to_dict(),
        user_handle=passkeys.new_user_handle(),
        display_name=profile.display_name,
        user_name=profile.email or profile.display_name,
    )
    return see_other(request, request.app.route_reverse("get_new_passkey"))


@get("/welcome", name="get_welcome", cache_control=None)
async def get_welcome(request: Request) -> object:
    account = current_account(request)
    if account is None or not account.is_member:
        return see_other(request, request.app.route_reverse("get_home"))
    member = await membership.member_for_account(account.id)
    steps = {
        "pass": bool(await member_passes.member_wallet_passes(member["id"])),
        "notifications": await push_subscriptions.has_devices(account.id),
    }
    return page(request, "membership/register/welcome.html", {"member": member, "done": steps}, cache="no-store")


handlers = [get_register, get_welcome, submit_registration]
