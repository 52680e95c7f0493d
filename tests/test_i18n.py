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


def test_a_japanese_time_is_written_as_babel_writes_it_at_every_minute_of_a_day():
    from datetime import datetime, timedelta, timezone

    from babel.dates import format_time

    token = i18n.current_locale.set("ja")
    try:
        start = datetime(2026, 12, 6, 15, 0, tzinfo=timezone.utc)  # midnight in Tokyo
        for minute in range(24 * 60):
            moment = start + timedelta(minutes=minute, seconds=59)
            assert i18n.format_time(moment) == format_time(i18n.to_tokyo(moment), "short", tzinfo=i18n.TOKYO, locale="ja")
    finally:
        i18n.current_locale.reset(token)


@pytest.fixture
def this_year_is_2026(monkeypatch):
    """A member's date names its year only when it is not this year."""
    from datetime import datetime as real_datetime

    class Datetime(real_datetime):
        @classmethod
        def now(cls, tz=None):
            return real_datetime(2026, 12, 6, 2, 0, tzinfo=tz)

    monkeypatch.setattr(i18n, "datetime", Datetime)


def test_members_read_dates_as_japanese_publications_write_them(this_year_is_2026):
    from datetime import date, datetime, timezone

    start, end = datetime(2026, 12, 6, 1, 50, tzinfo=timezone.utc), datetime(2026, 12, 6, 6, 0, tzinfo=timezone.utc)
    with i18n.in_locale("ja"):
        assert i18n.format_date(start) == "12月6日（日）"
        assert i18n.format_datetime(start, "short") == "12月6日（日）10:50"
        assert i18n.format_date(date(2027, 1, 3)) == "2027年1月3日（日）"
        assert i18n.format_date(start, "long") == "2026年12月6日"
        assert i18n.datetime_range(start, end) == "12月6日（日）10:50〜15:00"
        assert i18n.date_range(date(2026, 12, 28), date(2027, 1, 4)) == "2026年12月28日（月）〜2027年1月4日（月）"


def test_staff_read_the_era_first_and_the_western_year_of_a_fiscal_year_in_brackets():
    from datetime import date, datetime, timezone

    with i18n.in_locale("ja", audience="staff"):
        assert i18n.fiscal_year_label(2026) == "令和8年度（2026年度）"
        assert i18n.fiscal_year_label(2019) == "令和元年度（2019年度）"
        assert i18n.date_range(date(2026, 4, 1), date(2027, 3, 31)) == "令和8年4月1日〜令和9年3月31日"
        assert i18n.format_datetime(datetime(2026, 12, 6, 1, 50, tzinfo=timezone.utc), "short") == "令和8年12月6日 10:50"
        assert i18n.format_date("2026-11-01", "long") == "令和8年11月1日"
        assert i18n.format_date(date(2019, 4, 30)) == "平成31年4月30日"


def test_the_audience_follows_the_path():
    assert [i18n.audience_of(p) for p in ("/staff", "/staff/report", "/editor/programs", "/programs", "/staffing")] == [
        "staff", "staff", "staff", "member", "member"]


def test_english_keeps_english_formats():
    from datetime import date, datetime, timezone

    with i18n.in_locale("en", audience="staff"):
        assert i18n.fiscal_year_label(2026) == "FY2026 (Reiwa 8)"
        assert i18n.format_date(date(2026, 12, 6)) == "Dec 6, 2026"
        assert i18n.datetime_range(datetime(2026, 12, 6, 1, 0, tzinfo=timezone.utc),
                                   datetime(2026, 12, 6, 6, 0, tzinfo=timezone.utc)).replace("\u202f", " ") == "Sun, Dec 6, 2026 10:00 AM–3:00 PM"


TEXTS = ('{{ _("Home") }}|{{ gettext("Save") }}|{{ _("%(count)d (%(percent)s%%)", count=3, percent=who) }}'
         '|{{ _("50%% off") }}|{% set label = _("News") %}{{ label ~ who }}|{{ _("Home")|length }}'
         '|{% macro field(title=_("Save")) %}{{ title }}{% endmacro %}{{ field() }}')


def reference_environment(autoescape: bool):
    """Jinja's own newstyle gettext, the call at render time that the page environments compile away."""
    from jinja2 import Environment
    environment = Environment(extensions=["jinja2.ext.i18n"], autoescape=autoescape)
    environment.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)
    return environment


@pytest.mark.parametrize("autoescape", [True, False])
@pytest.mark.parametrize("locale", i18n.LOCALES)
@pytest.mark.parametrize("source", [TEXTS, '{% macro box(_) %}{{ _("Home") }}{% endmacro %}{{ box(gettext) }}'])
def test_texts_translated_as_a_template_is_compiled_read_as_the_call_at_render_time_gave_them(source, locale, autoescape):
    """The second template names a parameter `_`, so its calls stay calls; both must read the same."""
    from app.templating import PageEnvironment
    compiled = PageEnvironment(locale, extensions=["jinja2.ext.i18n"], autoescape=autoescape)
    compiled.globals = reference_environment(autoescape).globals
    with i18n.in_locale(locale):
        expected = reference_environment(autoescape).from_string(source).render(who="<i>")
        assert compiled.from_string(source).render(who="<i>") == expected
    assert ("ホーム" in expected) == (locale == "ja") and ("<i>" in expected) == (source == TEXTS and not autoescape)


def test_a_literal_text_leaves_no_call_in_the_compiled_template():
    from app.templating import PageEnvironment
    code = PageEnvironment("ja", extensions=["jinja2.ext.i18n"], autoescape=True).compile(TEXTS, raw=True)
    assert "ホーム" in code and "resolve('_')" not in code and "resolve('gettext')" not in code
    assert "resolve('_')" in PageEnvironment("ja").compile('{{ _(name) }}', raw=True)


def test_the_icons_have_no_words_of_their_own():
    """Their markup is drawn once by one language's environment and kept for every language (app/icons.py)."""
    from app.icons import ICONS_TEMPLATE
    from app.templating import TEMPLATE_DIR
    assert "_(" not in (TEMPLATE_DIR / ICONS_TEMPLATE).read_text() and "gettext" not in (TEMPLATE_DIR / ICONS_TEMPLATE).read_text()
