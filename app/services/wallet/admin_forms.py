"""What the secretariat's wallet forms (shops, offers, passes, a member's pass) share: every form is read into
a small dataclass; every problem is reported at once, next to its field, and nothing is written until the
whole form is valid. Here: reading a field as one line, several lines, a flag, a list, a whole number or a
date, and the checks of length and links.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from urllib.parse import urlsplit

from app.i18n import gettext as _

NAME_MAX = 100
LONG_TEXT_MAX = 2000
LINE_MAX = 200
URL_MAX = 500


def _first(value) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value or "")


def line(value) -> str:
    """One line of text; NFKC folds full-width digits and letters typed on Japanese keyboards."""
    return unicodedata.normalize("NFKC", _first(value)).strip()


def block(value) -> str:
    """Several lines of text, kept as typed apart from line endings and surrounding space."""
    return _first(value).replace("\r\n", "\n").replace("\r", "\n").strip()


def flag(value) -> bool:
    return _first(value) not in ("", "0", "false", "off")


def all_values(value) -> list[str]:
    """Every value of a field that may come more than once (checkboxes), empty ones left out."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value if str(v)]


def _is_web_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not any(c.isspace() for c in text)


def check_length(errors: dict[str, str], name: str, text: str, maximum: int) -> None:
    if len(text) > maximum and name not in errors:
        errors[name] = _("Use %(max)d characters or fewer.", max=maximum)


def check_url(errors: dict[str, str], name: str, text: str, *, required: bool) -> None:
    if not text:
        if required:
            errors[name] = _("Enter a link that starts with https://.")
    elif len(text) > URL_MAX:
        errors[name] = _("Use %(max)d characters or fewer.", max=URL_MAX)
    elif not _is_web_url(text):
        errors[name] = _("Enter a link that starts with https:// or http://.")


def whole_number(text: str, low: int, high: int) -> int | None:
    try:
        number = int(text)
    except ValueError:
        return None
    return number if low <= number <= high else None


def parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
