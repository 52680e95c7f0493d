"""What every part of the consultation desk (相談窓口, seed 004 §4(1)) shares: the codes for categories,
statuses and channels with their labels, the length and check of a message, and the desk's two errors."""

from __future__ import annotations

from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.services.shared.refusals import FormInvalid, Refusal

CATEGORIES = {
    "dual_residence": _l("Dual residence"),
    "migration": _l("Migration"),
    "work": _l("Work"),
    "housing": _l("Housing"),
    "childcare": _l("Child-rearing and education"),
    "entry_pass": _l("Entry pass"),
    "other": _l("Other"),
}
# A mail to the desk that answers no inquiry comes in under this until staff read it; askers never choose it.
MAIL_CATEGORY = "mail"
CATEGORY_LABELS = {**CATEGORIES, MAIL_CATEGORY: _l("By mail, not yet sorted")}
STATUSES = {
    "new": _l("New"),
    "in_progress": _l("In progress"),
    "waiting": _l("Waiting for the asker"),
    "closed": _l("Closed"),
}
OPEN_STATUSES = ("new", "in_progress", "waiting")
# Statuses staff set by hand: "new" only ever comes from the asker.
SETTABLE_STATUSES = ("in_progress", "waiting", "closed")
CONTACT_METHODS = {"email": _l("E-mail"), "phone": _l("Phone"), "app": _l("In the app")}
# How an inquiry reached the desk (Inquiry.channel); staff record the phone and e-mail ones, the warm-lead
# journey rule opens the survey ones.
CHANNELS = {"web": _l("Web form"), "phone": _l("Phone"), "mail": _l("E-mail"),
            "survey": _l("Survey answer (warm lead)")}
# How a message travelled (InquiryMessage.channel).
MESSAGE_CHANNELS = {"web": _l("Web form"), "app": _l("In the app"), "email": _l("E-mail"), "phone": _l("Phone")}

MESSAGE_MAX = 4000
NOTICE_EXCERPT = 120  # the first characters of a message quoted in the notice that tells of it


class InquiryInvalid(FormInvalid):
    """What was typed cannot be accepted: a message per field."""


class InquiryRefused(Refusal):
    """The step is not possible now: not_found | closed | changed_meanwhile | not_allowed | not_a_category |
    not_staff | not_failed."""


def category_label(code: str) -> str:
    return str(CATEGORY_LABELS.get(code, code))


def status_label(code: str) -> str:
    return str(STATUSES.get(code, code))


def channel_label(code: str) -> str:
    return str(CHANNELS.get(code, code))


def check_message(body: str) -> str | None:
    """The error for a message or reply text, or None when it is fine."""
    if not body.strip():
        return _("Enter a message.")
    if len(body) > MESSAGE_MAX:
        return _("Use %(max)d characters or fewer (now %(count)d).", max=MESSAGE_MAX, count=len(body))
    return None


def notice_excerpt(body: str) -> str:
    """What a notice quotes of a message (account deletion finds the quotes by it)."""
    return body[:NOTICE_EXCERPT]
