"""The screens a municipality publishes, as a person sees them, in Japanese and in English: the counter's answer,
the wallet, the error page and the privacy policy. Each is checked for its words in that language and kept as a
picture (in TSUNAGU_SCREENSHOTS when set, as for the README's docs/screenshots/, else in the test's own folder),
so a reviewer sees what the words look like on a phone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from litestar import get
from playwright.sync_api import Page, expect

from app.i18n import LOCALE_COOKIE
from tests.browser.conftest import PHONE, run_async
from tests.browser.test_wallet import (
    CURRY,
    VISITOR,
    activated_short_code,
    load_demo,
    shop_staff_session,
    visitor_session,
)

# What each screen says in each language, checked before its picture is kept.
WORDS = {
    "ja": {"counter": "OK", "wallet": "ウォレット", "error": "申し訳ありません", "privacy": "個人情報の取扱い"},
    "en": {"counter": "OK", "wallet": "Wallet", "error": "Something went wrong", "privacy": "Privacy policy"},
}


@get("/_screens/failure", name="screens_failure", include_in_schema=False)
async def failure() -> None:
    raise RuntimeError("a failure for the error page's picture")


@pytest.fixture
def screens_dir(tmp_path) -> Path:
    chosen = os.environ.get("TSUNAGU_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def phone_in(open_browser, live_server, language: str, session: str | None = None) -> Page:
    page = open_browser(session, {**PHONE, "locale": "ja-JP" if language == "ja" else "en-US"})
    page.context.add_cookies([{"name": LOCALE_COOKIE, "value": language, "url": live_server.url}])
    return page


def keep(page: Page, folder: Path, name: str, language: str, words: str) -> None:
    """The screen is in `language` and says `words`; its picture is kept. (The demo's content, shop names and
    offers, stays Japanese on English screens: it is what the region wrote.)"""
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.locator("body")).to_contain_text(words)
    page.screenshot(path=str(folder / f"{name}-{language}.png"))


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_published_screens_read_right_in_each_language(open_browser, live_server, screens_dir, language):
    demo = run_async(load_demo())
    registered, member_session = run_async(visitor_session(VISITOR))
    short_code = run_async(activated_short_code(registered.member_id, demo.pass_id, live_server.settings))
    if live_server.app.get_handler_index_by_name("screens_failure") is None:
        live_server.app.register(failure)
    words = WORDS[language]

    member = phone_in(open_browser, live_server, language, member_session)
    member.goto("/wallet")
    keep(member, screens_dir, "wallet", language, words["wallet"])

    counter = phone_in(open_browser, live_server, language, run_async(shop_staff_session(demo.shop_id)))
    counter.goto("/shop/scan")
    expect(counter.locator("[data-counter][data-wired]")).to_have_count(1)
    counter.get_by_test_id("counter-offer").select_option(str(demo.curry_id))
    counter.get_by_test_id("manual-code").fill(short_code)
    counter.get_by_test_id("manual-submit").click()
    expect(counter.get_by_test_id("redeem-ok")).to_contain_text(CURRY)
    keep(counter, screens_dir, "counter", language, words["counter"])

    visitor = phone_in(open_browser, live_server, language)
    assert visitor.goto("/_screens/failure").status == 500
    keep(visitor, screens_dir, "error", language, words["error"])
    visitor.goto("/privacy")
    keep(visitor, screens_dir, "privacy", language, words["privacy"])
