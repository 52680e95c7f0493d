"""Translations and local formatting.

The locale of the request being served lives in a context variable set by the locale middleware,
so `gettext` works the same in templates and in Python without passing the request around.
"""

from __future__ import annotations

import gettext as stdlib_gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timezone
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.dates import format_skeleton
from babel.dates import format_time as babel_format_time
from babel.support import LazyProxy, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
LOCALES = ("ja", "en")
LOCALE_NAMES = {"ja": "日本語", "en": "English"}
LOCALE_COOKIE = "lang"
TOKYO = ZoneInfo("Asia/Tokyo")

current_locale: ContextVar[str] = ContextVar("current_locale", default="ja")

# Who reads the page: "member" (members and visitors, the shop counter, every mail) or "staff" (the secretariat's
# and editors' pages, the yearly report, exports). Dates and a few statuses are written for their reader; the
# front middleware sets it from the path (audience_of), in_locale for words written outside a request.
AUDIENCES = ("member", "staff")
STAFF_PATHS = ("/staff", "/editor")
current_audience: ContextVar[str] = ContextVar("current_audience", default="member")


def audience_of(path: str) -> str:
    return "staff" if any(path == p or path.startswith(p + "/") for p in STAFF_PATHS) else "member"


@contextmanager
def in_locale(locale: str, audience: str = "member") -> Iterator[None]:
    """Words for someone other than the person at the screen: a CSV for the municipality's documents (audience
    "staff"), a mail to a member who has never chosen a language."""
    token = current_locale.set(locale)
    audience_token = current_audience.set(audience)
    try:
        yield
    finally:
        current_audience.reset(audience_token)
        current_locale.reset(token)


@cache
def translations(locale: str) -> stdlib_gettext.NullTranslations:
    return Translations.load(str(LOCALE_DIR), [locale], domain="messages")


def gettext(message: str, **variables) -> str:
    text = translations(current_locale.get()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables) -> str:
    text = translations(current_locale.get()).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


def lazy_gettext(message: str) -> LazyProxy:
    """For texts defined at import time (choices, labels) and translated when shown."""
    return LazyProxy(gettext, message, enable_cache=False)


_ = gettext


def negotiate(cookie: str | None, accept_language: str | None, default: str) -> str:
    """Cookie first (the person chose it), then the browser's languages, then the site default."""
    if cookie in LOCALES:
        return cookie
    if accept_language:
        weighted = []
        for index, part in enumerate(accept_language.split(",")):
            tag, _sep, params = part.strip().partition(";")
            quality = 1.0
            if params.strip().startswith("q="):
                try:
                    quality = float(params.strip()[2:])
                except ValueError:
                    continue
            weighted.append((-quality, index, tag.split("-")[0].lower()))
        for _q, _i, lang in sorted(weighted):
            if lang in LOCALES:
                return lang
    return default if default in LOCALES else LOCALES[0]


def to_tokyo(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(TOKYO)


@cache
def babel_locale(locale: str) -> Locale:
    """Babel's Locale, parsed once: given a locale's name, every format_date parses it again (half of a
    format_datetime's ≈ 30 µs, a few times on most pages)."""
    return Locale.parse(locale)


# Dates, in one place for every page, mail and document. Japanese as Japanese publications write them:
#   member  12月6日（日）, 12月6日（日）10:50; the year only when it is not this year, or asked for ("long":
#           2026年12月6日, as on a certificate; "full": 2026年12月6日（日）)
#   staff   令和8年12月6日, 令和8年12月6日 10:50 (the era first, as municipal documents; "full" adds the weekday);
#           fiscal years 令和8年度（2026年度） (dashboard.filters.fiscal_year_label)
#   ranges  joined with 〜 (date_range)
# English keeps Babel's formats; a Babel pattern other than the four sizes ("MMM") is passed to Babel as it is.
SIZES = ("short", "medium", "long", "full")
WEEKDAYS_JA = "月火水木金土日"


def _as_date(value) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return to_tokyo(value).date()
    if isinstance(value, str):  # an ISO date kept as text, such as a policy's version "2026-11-01"
        return date.fromisoformat(value)
    return value


def japanese_era(day: date) -> str:
    """令和8年 (令和元年 for 2019), 平成31年 before 1 May 2019; 西暦 before the Heisei era."""
    if day >= date(2019, 5, 1):
        year, era = day.year - 2018, "令和"
    elif day >= date(1989, 1, 8):
        year, era = day.year - 1988, "平成"
    else:
        return f"{day.year}年"
    return f"{era}{'元' if year == 1 else year}年"


def _japanese_date(day: date, size: str) -> str:
    weekday = f"（{WEEKDAYS_JA[day.weekday()]}）"
    if current_audience.get() == "staff":
        return f"{japanese_era(day)}{day.month}月{day.day}日" + (weekday if size == "full" else "")
    if size == "long":
        return f"{day.year}年{day.month}月{day.day}日"
    this_year = datetime.now(timezone.utc).astimezone(TOKYO).year
    year = f"{day.year}年" if size == "full" or day.year != this_year else ""
    return f"{year}{day.month}月{day.day}日{weekday}"


def format_date(value, format: str = "medium") -> str:
    try:
        day = _as_date(value)
    except ValueError:  # text that is not an ISO date stays as it is
        return str(value)
    if day is None:
        return ""
    if current_locale.get() == "ja" and format in SIZES:
        return _japanese_date(day, format)
    return babel_format_date(day, format=format, locale=babel_locale(current_locale.get()))


def format_time(value: datetime) -> str:
    """10:50 in Tokyo (10:50 AM in English). Japanese as Babel writes it (H:mm), without its pattern machinery:
    times fill the counter's day and every staff list (1.3 against 10 µs a time)."""
    local = to_tokyo(value)
    if current_locale.get() == "ja":
        return f"{local.hour}:{local.minute:02d}"
    return babel_format_time(local, "short", tzinfo=TOKYO, locale=babel_locale(current_locale.get()))


def format_datetime(value: datetime | None, format: str = "medium") -> str:
    if value is None:
        return ""
    if current_locale.get() == "ja" and format in SIZES:
        day = _japanese_date(to_tokyo(value).date(), format)
        gap = "" if day.endswith("）") else " "
        return f"{day}{gap}{format_time(value)}"
    return babel_format_datetime(to_tokyo(value), format=format, tzinfo=TOKYO, locale=babel_locale(current_locale.get()))


def list_separator() -> str:
    """What goes between the items of a list written inline: 、 in Japanese, a comma and a space in English."""
    return "、" if current_locale.get() == "ja" else ", "


def fiscal_year_label(year: int) -> str:
    """令和8年度（2026年度） in Japanese (the era first, as municipal documents), "FY2026 (Reiwa 8)" in English."""
    era = year - 2018  # Reiwa 1 began in 2019; its fiscal year 2019 (April 2019 to March 2020) is 令和元年度
    if era < 1:
        return gettext("FY%(year)d", year=year)
    return gettext("FY%(year)d (Reiwa %(era)s)", year=year, era="元" if era == 1 and current_locale.get() == "ja" else str(era))


def date_range(start, end, format: str = "medium") -> str:
    """From one day to another: 4月1日（水）〜5月6日（水）; one day alone when both are the same."""
    try:
        if (current_locale.get() == "ja" and current_audience.get() == "member" and format in ("short", "medium")
                and _as_date(start).year != _as_date(end).year):
            format = "full"  # a member's range across the new year names both years
    except (AttributeError, ValueError):
        pass  # an open end, or text that is not a date: each side as it is
    first, last = format_date(start, format), format_date(end, format)
    if not last or last == first:
        return first
    return gettext("%(start)s to %(end)s", start=first, end=last)


def datetime_range(start: datetime, end: datetime) -> str:
    """When something happens, in Tokyo: 12月6日（日）10:00〜15:00 within a day, else both moments in full; in
    English "Sun, Dec 6, 2026 10:00 AM–3:00 PM"."""
    locale = current_locale.get()
    start, end = to_tokyo(start), to_tokyo(end)
    same_day = start.date() == end.date()
    if locale == "ja":
        return gettext("%(start)s to %(end)s", start=format_datetime(start),
                       end=format_time(end) if same_day else format_datetime(end))

    def day(moment: datetime, skeleton: str = "yMMMEd") -> str:
        return format_skeleton(skeleton, moment, tzinfo=TOKYO, locale=babel_locale(locale))

    if same_day:
        return f"{day(start)} {format_time(start)}–{format_time(end)}"
    return f"{day(start)} {format_time(start)} – {day(end, 'MMMEd' if start.year == end.year else 'yMMMEd')} {format_time(end)}"
