"""Mails that carry a link back into the app: the link is built from the route, the text translated."""

from __future__ import annotations

import logging

from litestar import Request

from app.i18n import gettext as _
from app.services.membership import one_time_links
from app.services.notify import mail
from app.settings import Settings

log = logging.getLogger("tsunagu.mail")


def absolute(request: Request, route: str, **params) -> str:
    settings: Settings = request.app.state.settings
    return settings.base_url + request.app.route_reverse(route, **params)


async def _send(request: Request, to: str, subject: str, body: str) -> bool:
    settings: Settings = request.app.state.settings
    try:
        await mail.send_mail(settings.smtp, settings.var_dir / "mail", to, subject, body)
    except mail.MailError:
        log.exception("mail to %s could not be sent", to.split("@")[-1])
        return False
    return True


async def _one_time_link(request: Request, purpose: str, route: str, account_id: int, email: str) -> str:
    token = await one_time_links.issue(purpose, account_id, email=email)
    return absolute(request, route, token=token)


async def send_confirmation_mail(request: Request, account_id: int, email: str) -> bool:
    """Returns False when the mail could not be sent; the member can ask for it again later."""
    site = request.app.state.settings.branding.site_name
    link = await _one_time_link(request, "confirm_email", "confirm_email", account_id, email)
    body = _(
        "Thank you for registering with %(site)s.\n\nOpen this link within 24 hours to confirm your e-mail address:\n%(link)s\n\n"
        "A confirmed address lets you get back into your account if you lose your phone.\n"
        "If you did not register, you can ignore this mail.",
        site=site,
        link=link,
    )
    subject = _("[%(site)s] Confirm your e-mail address", site=site)
    return await _send(request, email, subject, body)


async def send_recovery_mail(request: Request, account_id: int, email: str) -> bool:
    site = request.app.state.settings.branding.site_name
    link = await _one_time_link(request, "recovery", "use_recovery_link", account_id, email)
    body = _(
        "Someone asked to get back into your %(site)s account.\n\nOpen this link within 15 minutes to set up a passkey on your new device:\n%(link)s\n\n"
        "The link works once. If this was not you, ignore this mail: nothing changes.",
        site=site,
        link=link,
    )
    subject = _("[%(site)s] Get back into your account", site=site)
    return await _send(request, email, subject, body)
