"""Translations and local formatting.

The locale of the request being served lives in a context variable set by the locale middleware,
so `gettext` works the same in templates and in Python without passing the request around.
"""

from __future__ import annotations

import gettext as stdlib_gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.support import LazyProxy, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
LOCALES = ("ja", "en")
LOCALE_NAMES = {"ja": "日本語", "en": "English"}
LOCALE_COOKIE = "lang"
TOKYO = ZoneInfo("Asia/Tokyo")

current_locale: ContextVar[str] = ContextVar("current_locale", default="ja")


@contextmanager
def in_locale(locale: str) -> Iterator[None]:
    """Words for someone other than the person at the screen: a CSV for the municipality's documents, a mail to
    a member who has never chosen a language."""
    token = current_locale.set(locale)
    try:
        yield
    finally:
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


def format_date(value, format: str = "medium") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_tokyo(value).date()
    return babel_format_date(value, format=format, locale=babel_locale(current_locale.get()))


def format_datetime(value: datetime | None, format: str = "medium") -> str:
    if value is None:
        return ""
    return babel_format_datetime(to_tokyo(value), format=format, tzinfo=TOKYO, locale=babel_locale(current_locale.get()))
