"""The documents a municipality publishes with the service: the privacy policy, the terms of use and the
accessibility policy. Their texts are templates (templates/legal/, one per language); what is kept here is what
the rest of the app relies on: each one's dates, the versions a registration is consented to, and the periods
the privacy policy promises, read from where the app enforces them so the page cannot drift from the code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.i18n import format_date, ngettext
from app.i18n import gettext as _
from app.services.membership.login_sessions import SESSION_TTL


@dataclass(frozen=True)
class Document:
    name: str  # the template's stem: legal/<name>_<locale>.html
    established: date
    revised: date

    @property
    def version(self) -> str:
        """What a member's consent records: the date of the text they read."""
        return self.revised.isoformat()

    def dates(self) -> str:
        """Established and last revised, as Japanese municipalities print them under a policy's title."""
        established = _("Established %(date)s", date=format_date(self.established, "long"))
        if self.revised == self.established:
            return established
        return _("%(established)s; revised %(date)s", established=established, date=format_date(self.revised, "long"))

    def revision_label(self) -> str:
        """The version beside a link or a consent: （2026年11月1日改定）."""
        return _("(revised %(date)s)", date=format_date(self.revised, "long"))


# A new revision date asks every new registration to agree to the new text (a member's row keeps the one they
# agreed to). Change the date whenever the text's substance changes.
PRIVACY = Document("privacy", established=date(2026, 11, 1), revised=date(2026, 11, 1))
TERMS = Document("terms", established=date(2026, 11, 1), revised=date(2026, 11, 1))
ACCESSIBILITY = Document("accessibility", established=date(2026, 11, 1), revised=date(2026, 11, 1))
PRIVACY_POLICY_VERSION = PRIVACY.version
TERMS_VERSION = TERMS.version


def period(days: int) -> str:
    """A retention period as people say it: whole years as years, anything else in days."""
    if days % 365 == 0:
        return ngettext("%(num)d year", "%(num)d years", days // 365)
    return ngettext("%(num)d day", "%(num)d days", days)


@dataclass(frozen=True)
class Periods:
    """How long the app keeps what the privacy policy names, from the constants that enforce it."""

    retention: str  # closed inquiries and sent mails (RETENTION_DAYS)
    login: str  # a logged-in device


def periods(retention_days: int) -> Periods:
    return Periods(retention=period(retention_days), login=period(SESSION_TTL.days))
