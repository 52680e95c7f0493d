"""Getting back in without the old phone: a one-time link by mail, or a QR handed over at the desk."""

from litestar import Request, get, post
from litestar.params import FromPath

from app.i18n import gettext as _
from app.rate_limit import auth_rate_limit
from app.rendering import page
from app.routes.forms import form_dict
from app.routes.membership.mail_links import send_recovery_mail
from app.routes.membership.passkeys import begin_ceremony
from app.services.membership import one_time_links, passkeys
from app.services.membership.membership import EMAIL_PATTERN


@get("/recover", name="get_recover", cache_control=None)
async def get_recover(request: Request) -> object:
    return page(request, "membership/recover/request.html", {"email": "", "error": ""}, cache="no-store")


@post("/recover", name="request_recovery", guards=[auth_rate_limit])
async def request_recovery(request: Request) -> object:
    form = await form_dict(request)
    email = str(form.get("email", "")).strip().lower()
    if not EMAIL_PATTERN.match(email) or len(email) > 254:
        context = {"email": email, "error": _("Enter an e-mail address such as taro@example.jp.")}
        return page(request, "membership/recover/request.html", context, status_code=422, cache="no-store")
    account_id = await one_time_links.recovery_account_for_email(email)
    if account_id is not None:
        await send_recovery_mail(request, account_id, email)
    # The same answer whether or not the address is registered: the form must not reveal who is a member.
    return page(request, "membership/recover/sent.html", {"email": email}, cache="no-store")


@get("/recover/{token:str}", name="use_recovery_link", cache_control=None)
async def use_recovery_link(request: Request, token: FromPath[str]) -> object:
    account = await one_time_links.use_recovery(token)
    if account is None:
        return page(request, "membership/recover/invalid.html", status_code=410, cache="no-store")
    begin_ceremony(
        request,
        "recover",
        account_id=account["id"],
        user_handle=account["webauthn_user_id"],
        display_name=account["display_name"],
        user_name=account["email"] or account["display_name"],
        # An account made by an import has never had a passkey: claiming it is a first visit, not a return
        first=not await passkeys.credential_ids(account["id"]),
    )
    return page(request, "membership/passkeys/new.html", {"flow": request.session["ceremony"]}, cache="no-store")


handlers = [get_recover, use_recovery_link, request_recovery]
