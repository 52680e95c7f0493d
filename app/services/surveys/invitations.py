"""The background round (app/jobs.py): close what is past its close date, invite the members a published
survey targets once it opens, and send its one reminder — in the inbox, as a push to those who want survey
pushes, and by mail. Each step claims its survey with a conditional UPDATE, so rounds may overlap."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.i18n import current_locale, format_datetime, in_locale, ngettext
from app.i18n import gettext as _
from app.services.membership.membership import chosen_locale
from app.services.notify import outbox, push_notifications
from app.services.surveys.plans import target_accounts
from app.services.surveys.surveys import answer_path, chunks, fit
from app.settings import Smtp
from db.engine import atomic
from db.tables import Account, Survey, SurveyInvitation, SurveyQuestion

# One reminder, two days before the close, to those who have not answered; never within a day of the
# invitation itself (a survey open for two days gets none).
REMIND_BEFORE = timedelta(days=2)
REMIND_NOT_BEFORE = timedelta(days=1)
NOTIFICATION_TITLE_MAX = 120


@dataclass(frozen=True)
class Outgoing:
    """What the messages of a round need besides the survey: mail links are absolute, texts in the site's language."""

    smtp: Smtp
    base_url: str
    site_name: str


@dataclass
class RoundStats:
    closed: int = 0
    invited: int = 0
    reminded: int = 0


async def announcement(survey: dict, reminder: bool) -> tuple[str, str]:
    """The title and body of an invitation (or of the reminder) in the inbox and the push."""
    closes = format_datetime(survey["closes_at"], "short")
    if reminder:
        title = fit(lambda t: _("Reminder: %(title)s", title=t), survey["title"], NOTIFICATION_TITLE_MAX)
        return title, _("The survey closes on %(date)s. You can still answer.", date=closes)
    title = fit(lambda t: _("Please answer: %(title)s", title=t), survey["title"], NOTIFICATION_TITLE_MAX)
    count = await SurveyQuestion.count().where(SurveyQuestion.survey == survey["id"])
    return title, ngettext("%(num)d question, open until %(date)s.", "%(num)d questions, open until %(date)s.", count,
                           date=closes)


async def _announce(survey: dict, accounts: list[int], reminder: bool, now: datetime, out: Outgoing) -> None:
    """Inside the round's transaction: one notification per language (the inbox of each, and a push to those
    who want survey pushes) and a mail to each confirmed address, each in the person's language."""
    path = answer_path(survey["id"])
    await push_notifications.notify_in_each_language(push_notifications.Target(topic="surveys"), accounts,
                                                     lambda: announcement(survey, reminder), path, survey["created_by"], now)
    link = out.base_url + path
    for chunk in chunks(accounts):
        rows = await Account.select(Account.email, Account.display_name, Account.locale).where(
            Account.id.is_in(chunk) & Account.email.is_not_null() & Account.email_verified_at.is_not_null()
            & (Account.status == "active"))
        for row in rows:
            with in_locale(chosen_locale(row["locale"])):
                subject, text = _mail(row["display_name"], survey, link, out.site_name, reminder)
            await outbox.enqueue(out.smtp, row["email"], subject, text,
                                 "survey_reminder" if reminder else "survey_invite", now=now)


def _mail(name: str, survey: dict, link: str, site: str, reminder: bool) -> tuple[str, str]:
    """The invitation or reminder mail (subject, text), in the language in effect."""
    names = {"name": name, "title": survey["title"], "link": link, "site": site,
             "date": format_datetime(survey["closes_at"], "short")}
    if reminder:
        return (_("[%(site)s] Reminder: the survey “%(title)s” closes soon", **names),
                _("Dear %(name)s,\n\nThe survey “%(title)s” is open until %(date)s. If you have not found the "
                  "time yet, you can still answer in the app:\n%(link)s\n\n%(site)s", **names))
    return (_("[%(site)s] Please answer the survey “%(title)s”", **names),
            _("Dear %(name)s,\n\nPlease answer the survey “%(title)s”. It is open until %(date)s.\n\n"
              "Answer in the app:\n%(link)s\n\nYour answers help us shape the programs and the support for "
              "people who keep in touch with the region. Thank you.\n\n%(site)s", **names))


async def _invite(survey: dict, now: datetime, out: Outgoing) -> int:
    accounts = await target_accounts(survey["target"] or {})
    async with atomic(Survey._meta.db):
        claimed = await Survey.update({Survey.invited_at: now}).where(
            (Survey.id == survey["id"]) & (Survey.status == "published") & Survey.invited_at.is_null()
        ).returning(Survey.id)
        if not claimed:
            return 0  # another round got there first
        for chunk in chunks(accounts):
            await SurveyInvitation.insert(*[SurveyInvitation(survey=survey["id"], account=a, created_at=now) for a in chunk])
        if accounts:
            await _announce(survey, accounts, False, now, out)
    return len(accounts)


async def _remind(survey: dict, now: datetime, out: Outgoing) -> int:
    async with atomic(Survey._meta.db):
        claimed = await Survey.update({Survey.reminded_at: now}).where(
            (Survey.id == survey["id"]) & (Survey.status == "published") & Survey.reminded_at.is_null()
        ).returning(Survey.id)
        if not claimed:
            return 0
        waiting = await SurveyInvitation.update({SurveyInvitation.reminded_at: now}).where(
            (SurveyInvitation.survey == survey["id"]) & SurveyInvitation.responded_at.is_null()
        ).returning(SurveyInvitation.account)
        accounts = sorted(row["account"] for row in waiting)
        if accounts:
            await _announce(survey, accounts, True, now, out)
    return len(accounts)


async def dispatch_due(smtp: Smtp, now: datetime, *, base_url: str, site_name: str, locale: str = "ja") -> RoundStats:
    """One round: close what is past its close date, invite the targets of what has opened, and send the one
    reminder of what closes within two days. Safe to run in several processes at once."""
    out = Outgoing(smtp, base_url.rstrip("/"), site_name)
    stats = RoundStats()
    token = current_locale.set(locale)
    try:
        closed = await Survey.update({Survey.status: "closed", Survey.updated_at: now}).where(
            (Survey.status == "published") & (Survey.closes_at <= now)
        ).returning(Survey.id)
        stats.closed = len(closed)
        published = (Survey.status == "published") & (Survey.closes_at > now)
        for survey in await Survey.select().where(
            published & (Survey.opens_at <= now) & Survey.invited_at.is_null()
        ).order_by(Survey.id).output(load_json=True):
            stats.invited += await _invite(survey, now, out)
        for survey in await Survey.select().where(
            published & Survey.reminded_at.is_null() & (Survey.closes_at <= now + REMIND_BEFORE)
            & (Survey.invited_at <= now - REMIND_NOT_BEFORE)
        ).order_by(Survey.id).output(load_json=True):
            stats.reminded += await _remind(survey, now, out)
    finally:
        current_locale.reset(token)
    return stats
