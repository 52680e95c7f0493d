"""The weekly mail (週1回の新着メール): the member's switch on the notifications page, and the unsubscribe link every
digest carries (RFC 8058). The rules are in app/services/notify/digest.py."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.params import FromPath

from app import guards
from app.auth import current_account
from app.i18n import gettext as _
from app.rendering import page, see_other
from app.routes.forms import form_dict
from app.services.notify import digest
from app.services.notify.digest import DigestRefused
from app.services.shared import clock
from app.services.shared.signed_tokens import TokenError

UNSUBSCRIBE_PAGE = "notify/digest/unsubscribe.html"


@post("/account/notifications/digest", name="update_digest", guards=[guards.member])
async def update_digest(request: Request) -> object:
    wanted = (await form_dict(request)).get("digest") == "1"
    try:
        await digest.set_wanted(current_account(request).id, wanted, clock.now())
    except DigestRefused as refused:
        request.session["flash"] = refused.message
    else:
        request.session["flash"] = _("You will get the weekly mail.") if wanted else _("The weekly mail is stopped.")
    return see_other(request, request.app.route_reverse("get_push_settings"))


def _unsubscribe_page(request: Request, context: dict, status_code: int = 200) -> object:
    return page(request, UNSUBSCRIBE_PAGE, {"token": "", "state": "", "unclear": False, **context}, status_code=status_code, cache="no-store")


def _member_of(request: Request, token: str) -> int | None:
    try:
        return digest.member_of(request.app.state.signer, token, clock.now())
    except TokenError:
        return None


# A GET never unsubscribes: link scanners and previews open links in mails. It shows the button instead.
@get("/mail/unsubscribe/{token:str}", name="get_mail_unsubscribe", cache_control=None)
async def get_mail_unsubscribe(request: Request, token: FromPath[str]) -> object:
    member_id = _member_of(request, token)
    if member_id is None:
        return _unsubscribe_page(request, {"state": "invalid"}, status_code=400)
    return _unsubscribe_page(request, {"token": token, "state": "on" if await digest.is_wanted(member_id) else "off"})


# What a mail program sends when the reader taps its unsubscribe button (RFC 8058): a POST with no cookie, so no
# login and no CSRF token; the signed token in the address stands in for both. The page's own button sends the
# same. It answers with the page itself rather than a redirect, which mail programs do not follow.
@post("/mail/unsubscribe/{token:str}", name="submit_mail_unsubscribe", exclude_from_csrf=True, status_code=200)
async def submit_mail_unsubscribe(request: Request, token: FromPath[str]) -> object:
    member_id = _member_of(request, token)
    if member_id is None:
        return _unsubscribe_page(request, {"state": "invalid"}, status_code=400)
    form = await form_dict(request)
    if f"List-Unsubscribe={form.get('List-Unsubscribe')}" != digest.ONE_CLICK:
        state = "on" if await digest.is_wanted(member_id) else "off"
        return _unsubscribe_page(request, {"token": token, "state": state, "unclear": True}, status_code=400)
    await digest.stop(member_id)
    return _unsubscribe_page(request, {"state": "stopped"})


handlers = [update_digest, get_mail_unsubscribe, submit_mail_unsubscribe]
