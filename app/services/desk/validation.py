"""What an asker types into the desk's form, checked: names, addresses and phone numbers as people type them
on a Japanese keyboard, a way to be answered that they can use, consent, and no flood from one address."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.i18n import gettext as _
from app.services.desk.common import CATEGORIES, InquiryInvalid, check_message
from app.services.legal.documents import PRIVACY_POLICY_VERSION
from app.services.membership.membership import EMAIL_MAX, EMAIL_PATTERN
from app.services.shared import clock
from app.services.shared.text import KANA_PATTERN
from db.tables import Inquiry

NAME_MAX, FURIGANA_MAX, PHONE_MAX = 100, 100, 32
PHONE_DIGITS_MIN, PHONE_DIGITS_MAX = 10, 15
CONSENT_VERSION = PRIVACY_POLICY_VERSION  # the desk's purpose statement points to this privacy policy
# One address sending more than this many inquiries an hour is a script or a mistake, not a person.
PER_EMAIL_PER_HOUR = 5
PHONE_PATTERN = re.compile(r"^\+?[0-9][0-9-]*[0-9]$")


@dataclass
class InquiryValues:
    name: str = ""
    furigana: str = ""
    email: str = ""
    phone: str = ""
    contact_method: str = ""
    category: str = ""
    message: str = ""
    consent_version: str = ""
    channel: str = "web"


def form_text(form: dict, name: str) -> str:
    """One field of a submitted form as text, trimmed (the first value when it came more than once)."""
    value = form.get(name, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).strip()


def _narrow(value: str) -> str:
    """Full-width letters, digits and ＠ typed on a Japanese keyboard become their ASCII selves."""
    return unicodedata.normalize("NFKC", value).strip()


def normalise_phone(value: str) -> str:
    # Spaces and full-width hyphens are common in Japanese numbers (０１４４－３２－６１１１): keep digits, - and +.
    return re.sub(r"[\s\u2010-\u2015\u2212\u30fc]", lambda m: "" if m.group().isspace() else "-", _narrow(value))


def _name_error(name: str, recorded: bool) -> str | None:
    if not name:
        return _("Enter your name.") if not recorded else _("Enter the asker's name.")
    if len(name) > NAME_MAX:
        return _("Use %(max)d characters or fewer.", max=NAME_MAX)
    return None


def phone_is_valid(phone: str) -> bool:
    """A Japanese phone number with its area code (10 to 15 digits; hyphens and a leading + allowed)."""
    digits = sum(ch.isdigit() for ch in phone)
    return bool(PHONE_PATTERN.match(phone)) and PHONE_DIGITS_MIN <= digits <= PHONE_DIGITS_MAX and len(phone) <= PHONE_MAX


def _address_errors(values: InquiryValues) -> dict[str, str]:
    """The e-mail address and the phone number, each as typed (both may be empty here)."""
    errors: dict[str, str] = {}
    if values.email and (len(values.email) > EMAIL_MAX or not EMAIL_PATTERN.match(values.email)):
        errors["email"] = _("Enter an e-mail address such as taro@example.jp.")
    if values.phone and not phone_is_valid(values.phone):
        errors["phone"] = _("Enter a phone number with its area code, such as 0144-32-6111.")
    return errors


def _answer_errors(values: InquiryValues, member: bool, so_far: dict[str, str]) -> dict[str, str]:
    """A way to be answered the asker may choose, with the address or number it needs; and some way at all.
    A field that already has an error (in `so_far`) keeps that one."""
    errors: dict[str, str] = {}
    methods = ("email", "phone", "app") if member else ("email", "phone")
    if values.contact_method not in methods:
        errors["contact_method"] = _("Choose how we should answer you.")
    elif values.contact_method == "email" and not values.email and "email" not in so_far:
        errors["email"] = _("Enter your e-mail address, or choose another way to be answered.")
    elif values.contact_method == "phone" and not values.phone and "phone" not in so_far:
        errors["phone"] = _("Enter your phone number, or choose another way to be answered.")
    if not (values.email or values.phone or member) and not ({"email", "phone"} & (so_far.keys() | errors.keys())):
        errors["email"] = _("Enter an e-mail address or a phone number so that we can answer you.")
    return errors


async def _sent_many_lately(email: str, now: datetime | None) -> bool:
    since = (now or clock.now()) - timedelta(hours=1)
    recent = await Inquiry.count().where((Inquiry.email == email) & (Inquiry.created_at >= since))
    return recent >= PER_EMAIL_PER_HOUR


async def validate_inquiry(form: dict, *, member: bool = False, recorded: bool = False,
                           now: datetime | None = None) -> InquiryValues:
    """An inquiry from the form. `member`: the asker is a logged-in member (may be answered in the app);
    `recorded`: staff note one that came by phone or e-mail (the channel is then part of the form)."""
    values = InquiryValues(
        name=form_text(form, "name"), furigana=form_text(form, "furigana"), email=_narrow(form_text(form, "email")),
        phone=normalise_phone(form_text(form, "phone")), contact_method=form_text(form, "contact_method"),
        category=form_text(form, "category"), message=form_text(form, "message"),
        consent_version=form_text(form, "consent"), channel=form_text(form, "channel") if recorded else "web",
    )
    errors: dict[str, str] = {}
    name_error = _name_error(values.name, recorded)
    if name_error:
        errors["name"] = name_error
    if len(values.furigana) > FURIGANA_MAX:
        errors["furigana"] = _("Use %(max)d characters or fewer.", max=FURIGANA_MAX)
    elif values.furigana and not KANA_PATTERN.match(values.furigana):
        errors["furigana"] = _("Write this in kana (hiragana or katakana).")
    errors.update(_address_errors(values))
    errors.update(_answer_errors(values, member, errors))
    if values.category not in CATEGORIES:
        errors["category"] = _("Choose what your question is about.")
    message_error = check_message(values.message) if values.message else _("Enter your question.")
    if message_error:
        errors["message"] = message_error
    if values.consent_version != CONSENT_VERSION:
        errors["consent"] = _("Please read and agree to how we handle your personal data.")
    if recorded and values.channel not in ("phone", "mail"):
        errors["channel"] = _("Choose how the inquiry reached the desk.")
    if values.email and "email" not in errors and not recorded and await _sent_many_lately(values.email, now):
        errors["email"] = _("Several inquiries came from this address within the hour. Please wait a while, or call the desk.")
    if errors:
        raise InquiryInvalid(errors)
    return values
