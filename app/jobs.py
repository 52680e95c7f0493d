"""One background round: everything that happens outside a request, in the order it feeds itself.

Journey rules fire first (journeys/round.py); surveys whose time has come make notifications and mails; premium
years ending remind and lapse; the desk's mailbox is read for the askers' replies; notifications fan out to deliveries and are pushed; queued mail
goes to the mail server. Each step is guarded on its own so that one failing step (a mail server that is
down) never holds back the others. Rounds may overlap: every step claims its rows.
"""

from __future__ import annotations

import logging

from app.services.desk import mail_replies
from app.services.journeys import round as journeys
from app.services.notify import digest, line_delivery, outbox, push_delivery, push_message
from app.services.notify.personal import Told
from app.services.notify.push_endpoints import PushHosts
from app.services.premium import lapse
from app.services.shared import clock
from app.services.surveys import invitations
from app.settings import Settings

log = logging.getLogger("tsunagu.jobs")


async def run_round(settings: Settings, client, signer: push_message.VapidSigner, hosts: PushHosts | None = None) -> dict:
    """`hosts`: the sender's own PushHosts, which keeps its address lookups from round to round; made from
    the settings when not given."""
    figures: dict = {}
    try:  # first: a rule may make what the steps after it send (a follow-up survey, a notification)
        figures.update({f"journey_{rule}": count for rule, count in (await journeys.run_due()).items()})
    except Exception:
        log.exception("journey round failed")
    try:
        due = await invitations.dispatch_due(settings.smtp, clock.now(), base_url=settings.base_url,
                                         site_name=settings.branding.site_name, locale=settings.default_locale)
        figures.update(surveys_closed=due.closed, survey_invitations=due.invited, survey_reminders=due.reminded)
    except Exception:
        log.exception("survey round failed")
    try:
        ended = await lapse.run_due(Told(settings.smtp, settings.base_url))
        figures.update(premium_reminded=ended.reminded, premium_lapsed=ended.lapsed)
    except Exception:
        log.exception("premium round failed")
    try:  # before push and mail: a reply that came in tells the assignee at once
        replies = await mail_replies.read_replies(settings)
        figures.update(desk_mail_threaded=replies.threaded, desk_mail_opened=replies.opened,
                       desk_mail_failed=replies.failed)
    except Exception:
        log.exception("desk mailbox round failed")
    try:
        stats = await push_delivery.run_once(client, signer, hosts=hosts if hosts is not None else PushHosts(settings.push_extra_hosts))
        figures.update(sent=stats.sent, retried=stats.retried, failed=stats.failed, expired=stats.expired)
    except Exception:  # logged, and the next round tries again
        log.exception("push round failed")
    if settings.line.enabled:
        try:
            line = await line_delivery.run_once(settings.line, settings.base_url)
            figures.update(line_sent=line.sent, line_retried=line.retried, line_failed=line.failed,
                           line_skipped=line.skipped)
        except Exception:
            log.exception("LINE round failed")
    try:  # before the mail step, which sends what it queued in the same round
        digests = await digest.run_due(digest.Outgoing(settings.smtp, settings.base_url, settings.branding.site_name,
                                                       settings.signing_key, settings.default_locale), clock.now())
        figures.update(digests_sent=digests.sent, digests_empty=digests.empty)
    except Exception:
        log.exception("digest round failed")
    try:
        mails = await outbox.deliver_due(settings.smtp, settings.var_dir / "mail", clock.now())
        figures.update(mail_sent=mails.sent, mail_retried=mails.retried, mail_failed=mails.failed)
    except Exception:
        log.exception("mail round failed")
    return figures
