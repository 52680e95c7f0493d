"""Accepting a staff invitation: a name, then a passkey for the invited role."""

from litestar import Request, get, post
from litestar.params import FromPath

from app.i18n import gettext as _
from app.rate_limit import auth_rate_limit
from app.rendering import page, see_other
from app.routes.forms import form_dict
from app.routes.membership.passkeys import begin_ceremony
from app.services.membership import one_time_links, passkeys
from app.services.membership.membership import DISPLAY_NAME_MAX


@get("/invite/{token:str}", name="get_invitation", cache_control=None)
async def get_invitation(request: Request, token: FromPath[str]) -> object:
    invitation = await one_time_links.peek_invitation(token)
    if invitation is None:
        return page(request, "membership/invite/invalid.html", status_code=410, cache="no-store")
    return page(request, "membership/invite/form.html", {"invitation": invitation, "token": token, "name": "", "error": ""}, cache="no-store")


@post("/invite/{token:str}", name="accept_invitation", guards=[auth_rate_limit])
async def accept_invitation(request: Request, token: FromPath[str]) -> object:
    invitation = await one_time_links.peek_invitation(token)
    if invitation is None:
        return page(request, "membership/invite/invalid.html", status_code=410, cache="no-store")
    name = str((await form_dict(request)).get("display_name", "")).strip()
    if not name or len(name) > DISPLAY_NAME_MAX:
        error = _("Enter your name (%(max)d characters or fewer).", max=DISPLAY_NAME_MAX)
        context = {"invitation": invitation, "token": token, "name": name, "error": error}
        return page(request, "membership/invite/form.html", context, status_code=422, cache="no-store")
    begin_ceremony(request, "invite", token=token, user_handle=passkeys.new_user_handle(), display_name=name, role=invitation["role"])
    return see_other(request, request.app.route_reverse("get_new_passkey"))


handlers = [get_invitation, accept_invitation]
