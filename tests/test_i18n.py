"""Catalogues: every Japanese message translated, and the committed .mo files match the .po files."""

from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from app import i18n

LOCALE_DIR = Path(i18n.__file__).parent / "locale"


def load(locale: str):
    with open(LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po", "rb") as fh:
        po = read_po(fh, locale=locale)
    with open(LOCALE_DIR / locale / "LC_MESSAGES" / "messages.mo", "rb") as fh:
        mo = read_mo(fh)
    return po, mo


def test_every_message_has_a_japanese_translation():
    po, _mo = load("ja")
    missing = [m.id for m in po if m.id and (not m.string or m.fuzzy)]
    assert missing == []


def test_the_pot_template_has_no_message_missing_from_the_japanese_catalogue():
    with open(LOCALE_DIR / "messages.pot", "rb") as fh:
        pot = read_po(fh)
    po, _mo = load("ja")
    assert {m.id for m in pot if m.id} <= {m.id for m in po if m.id}


@pytest.mark.parametrize("locale", ["ja", "en"])
def test_compiled_catalogue_matches_its_po_file(locale):
    po, mo = load(locale)

    def entries(catalogue, skip_fuzzy):
        # Plural ids and strings come as lists or tuples; an untranslated plural is compiled as its ids.
        def key(value):
            return value if isinstance(value, str) else tuple(value)

        return {
            key(m.id): key(m.string)
            for m in catalogue
            if m.id and m.string and any(m.string) and key(m.string) != key(m.id) and not (skip_fuzzy and m.fuzzy)
        }

    expected = entries(po, True)
    compiled = entries(mo, False)
    assert compiled == expected, "run `make messages` and commit the .mo files"


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        ("en", "ja", "en"),
        (None, "en-GB,en;q=0.8", "en"),
        (None, "fr-FR, en;q=0.5, ja;q=0.9", "ja"),
        (None, "de", "ja"),
        (None, "en;q=abc", "ja"),
        ("xx", None, "ja"),
        (None, None, "ja"),
    ],
)
def test_negotiate_prefers_cookie_then_browser_then_default(cookie, header, expected):
    assert i18n.negotiate(cookie, header, "ja") == expected


def test_dates_are_shown_in_tokyo_time():
    from datetime import datetime, timezone

    token = i18n.current_locale.set("ja")
    try:
        # 2026-03-31 15:30 UTC is already April 1st in Tokyo: fiscal years hang on this.
        assert i18n.format_date(datetime(2026, 3, 31, 15, 30, tzinfo=timezone.utc), "yyyy-MM-dd") == "2026-04-01"
    finally:
        i18n.current_locale.reset(token)
