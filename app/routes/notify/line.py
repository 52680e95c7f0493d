"""The LINE official account: its webhook, the page where a member confirms the link LINE sent them, and
unlinking. The rules are in app/services/notify/line_links.py; without LINE settings every route here is a 404."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from litestar import Request, get, post
from litestar.background_tasks import BackgroundTask
from litestar.exceptions import NotFoundException
from litestar.params import QueryParameter
from litestar.response import Redirect, Response

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.middleware import policy_with_form_action
from app.rendering import page, see_other
from app.routes.forms import form_dict
from app.services.notify import line_links
from app.services.shared import clock
from app.settings import Line

# A webhook call carries a few events (LINE sends them in batches of up to a hundred small objects).
WEBHOOK_MAX_BYTES = 256 * 1024
LINK_TOKEN = re.compile(r"^[A-Za-z0-9._~-]{1,255}$")
LinkToken = Annotated[str, QueryParameter(name="linkToken")]


def _line(request: Request) -> Line:
    line = request.app.state.settings.line
    if not line.enabled:
        raise NotFoundException()
    return line


# LINE's platform calls this: no login and no CSRF token, the channel secret's signature instead (refused with
# 400 before anything is read or written when it is missing or wrong). It answers at once; the calls back to
# LINE (a link token, the replies) run after the answer.
@post("/line/webhook", name="receive_line_webhook", exclude_from_csrf=True, status_code=200,
      request_max_body_size=WEBHOOK_MAX_BYTES)
async def receive_line_webhook(request: Request) -> Response:
    line = _line(request)
    settings = request.app.state.settings
    try:
        events = line_links.parse(line.channel_secret, await request.body(), request.headers.get("x-line-signature"))
    except line_links.BadWebhook:
        return Response({"detail": "not a webhook call from LINE"}, status_code=400)
    replies = await line_links.handle_events(events, clock.now())
    link_page = settings.base_url + request.app.route_reverse("get_line_link")
    return Response({}, background=BackgroundTask(line_links.send_replies, line, replies, link_page,
                                                  settings.branding.site_name, settings.default_locale))


def _link_page(request: Request, line: Line, context: dict, status_code: int = 200) -> object:
    response = page(request, "notify/line/link.html", context, status_code=status_code, cache="no-store")
    # The confirmation form's answer sends the browser on to LINE's account-link endpoint: allowed for this page.
    parts = urlsplit(line.account_link_url)
    response.headers["Content-Security-Policy"] = policy_with_form_action(f"{parts.scheme}://{parts.netloc}")
    return response


@get("/line/link", name="get_line_link", guards=[guards.member], cache_control=None)
async def get_line_link(request: Request, link_token: LinkToken = "") -> object:
    """Where the link LINE sent the member leads: confirm linking this membership (after logging in)."""
    line = _line(request)
    valid = bool(LINK_TOKEN.match(link_token))
    context = {"link_token": link_token if valid else "", "invalid": not valid,
               "link": await line_links.link_of(current_account(request).id)}
    return _link_page(request, line, context, status_code=200 if valid else 400)


@post("/line/link", name="start_line_link", guards=[guards.member])
async def start_line_link(request: Request) -> object:
    line = _line(request)
    account = current_account(request)
    token = (await form_dict(request)).get("link_token")
    if not isinstance(token, str) or not LINK_TOKEN.match(token):
        return _link_page(request, line, {"link_token": "", "invalid": True, "link": None}, status_code=400)
    if await line_links.link_of(account.id):
        request.session["flash"] = _("Your membership is already linked to a LINE account.")
        return see_other(request, request.app.route_reverse("get_account"))
    nonce = await line_links.start_link(account.id, clock.now())
    return Redirect(f"{line.account_link_url}?{urlencode({'linkToken': token, 'nonce': nonce})}", status_code=303)


@post("/account/line/unlink", name="unlink_line", guards=[guards.member])
async def unlink_line(request: Request) -> object:
    _line(request)
    if await line_links.unlink(current_account(request).id, clock.now()):
        request.session["flash"] = _("LINE is unlinked. Notifications no longer arrive there.")
    return see_other(request, request.app.route_reverse("get_account"))


handlers = [receive_line_webhook, get_line_link, start_line_link, unlink_line]
