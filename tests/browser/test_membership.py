"""The member's journey in a real phone browser, with Chromium's virtual passkey authenticator: register,
carry the card (live clock, QR that staff can check, offline), log out and back in, manage passkeys.

Two things about headless Chromium that these tests work around:
- Passkey autofill (conditional mediation) completes on its own with a virtual authenticator: the login page
  logs in without any tap. The button test turns autofill off, as on a browser without it; another test
  covers autofill.
- While a CDP session of the test's own (the authenticator's) is attached, a page opened with the network
  off still reports navigator.onLine === true. Offline tests detach it once the passkey is no longer needed.
"""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import CDPSession, Page, expect

from app.auth import AUTH_COOKIE
from app.services.membership import login_sessions, passkeys
from app.services.notify import notices
from db.tables import Account
from tests import factories
from tests.browser.conftest import (
    ACTION_TIMEOUT_MS,
    PHONE,
    add_virtual_authenticator,
    go_offline,
    run_async,
    wait_for_service_worker_control,
)

MEMBER_NO = re.compile(r"^TMK-\d{6}$")
NAME = "ふるさと花子"
PASSKEY_ADDED = "パスキーを追加しました。"
PASSKEY_REMOVED = "パスキーを削除しました。"
ONLY_PASSKEY = "これが唯一のパスキーです。先にメールアドレスを確認するか、別のパスキーを追加してください。"
VALID_CARD = "有効な会員証です"
FORGED_CARD = "このコードは当サービスが発行したものではありません。"
NO_AUTOFILL = "PublicKeyCredential.isConditionalMediationAvailable = async () => false;"
CACHED_PAGES = """async () => {
  const names = (await caches.keys()).filter((name) => name.startsWith('tsunagu-pages-'));
  const urls = [];
  for (const name of names) urls.push(...(await (await caches.open(name)).keys()).map((r) => new URL(r.url).pathname));
  return urls;
}"""
CACHED_URLS = """async () => {
  const names = (await caches.keys()).filter((name) => name.startsWith('tsunagu-pages-'));
  const urls = [];
  for (const name of names) urls.push(...(await (await caches.open(name)).keys()).map((r) => r.url));
  return urls.map((url) => new URL(url).pathname + new URL(url).search);
}"""
PAGE_CACHE_LIMIT = re.compile(r"const PAGE_CACHE_LIMIT = (\d+);")


# --- what a person does ------------------------------------------------------------------------------


def tap_passkey_button(page: Page, root: str, testid: str) -> None:
    """Taps a passkey button once passkeys.js has wired it: a page that arrives by an HTMX swap shows the
    button a moment before its script has run."""
    expect(page.locator(f"{root}[data-wired]")).to_have_count(1)
    page.get_by_test_id(testid).click()


def create_passkey(page: Page) -> None:
    tap_passkey_button(page, "[data-passkey-create]", "passkey-create-button")


def register(page: Page, name: str = NAME) -> str:
    """Fills in the registration form, creates the passkey; returns the member number on the welcome page."""
    page.goto("/register")
    page.get_by_test_id("field-display_name").fill(name)
    page.get_by_test_id("field-home_prefecture").select_option("13")
    page.get_by_test_id("ties-furusato_tax").check()
    page.get_by_test_id("field-consent").check()
    page.get_by_test_id("field-terms").check()
    page.get_by_test_id("register-submit").click()

    create_passkey(page)

    expect(page).to_have_url(re.compile(r"/welcome$"))
    member_no = page.get_by_test_id("welcome-member-no")
    expect(member_no).to_have_text(MEMBER_NO)
    return member_no.inner_text().strip()


def log_out(page: Page) -> None:
    page.goto("/account")
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("logged-out")).to_be_visible()


def visit_card_under_service_worker(page: Page) -> None:
    """Opens the card once the worker controls the page, so the worker has kept a copy."""
    page.goto("/card")
    wait_for_service_worker_control(page)
    page.goto("/card")
    expect(page.get_by_test_id("member-card")).to_be_visible()


def wait_until_not_cached(page: Page, path: str, timeout_s: float = ACTION_TIMEOUT_MS / 1000) -> None:
    """Polls the worker's page cache (page.wait_for_function would not wait for a promise)."""
    deadline = time.monotonic() + timeout_s
    while path in page.evaluate(CACHED_PAGES):
        assert time.monotonic() < deadline, f"{path} is still in the offline cache"
        page.wait_for_timeout(50)


@dataclass(frozen=True)
class Member:
    number: str
    authenticator: CDPSession  # detach it before going offline (see the module docstring)


@pytest.fixture
def member(page) -> Member:
    """A member registered in `page`, whose virtual authenticator holds the passkey."""
    cdp, _authenticator_id = add_virtual_authenticator(page)
    return Member(number=register(page), authenticator=cdp)


# --- registration and the card ------------------------------------------------------------------------


def test_register_on_a_phone_and_open_the_live_member_card(page):
    add_virtual_authenticator(page)

    member_no = register(page)

    page.get_by_test_id("welcome-card").click()
    expect(page).to_have_url(re.compile(r"/card$"))
    card = page.get_by_test_id("member-card")
    expect(card).to_be_visible()
    expect(card.get_by_test_id("card-name")).to_have_text(NAME)
    expect(card.get_by_test_id("card-member-no")).to_have_text(member_no)
    expect(card.get_by_test_id("card-qr").locator("svg")).to_be_visible()
    clock = card.get_by_test_id("card-clock")
    expect(clock).to_have_text(re.compile(r"\d{2}:\d{2}:\d{2}"))
    shown = clock.inner_text()
    expect(clock).not_to_have_text(shown, timeout=2_500)  # a live screen ticks; a screenshot would not


# --- logging in and out --------------------------------------------------------------------------------


def test_log_out_and_log_back_in_with_the_passkey_button(page, member):
    page.add_init_script(NO_AUTOFILL)
    log_out(page)

    page.goto("/card")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fcard$"))
    tap_passkey_button(page, "[data-passkey-login]", "login-button")

    expect(page).to_have_url(re.compile(r"/card$"))
    expect(page.get_by_test_id("card-member-no")).to_have_text(member.number)


def test_passkey_autofill_on_the_login_page_logs_in_too(page, member):
    log_out(page)

    page.goto("/login")
    # No tap: Chromium's virtual authenticator answers the autofill (conditional) request by itself.
    expect(page).to_have_url(re.compile(r"/card$"))
    expect(page.get_by_test_id("card-member-no")).to_have_text(member.number)


# --- managing passkeys ---------------------------------------------------------------------------------


def test_add_a_second_passkey_remove_one_but_never_the_last(page, member):
    # The second device is a security key: Chromium allows one phone ("internal") authenticator per page,
    # and that one would refuse anyway, as it already holds this member's passkey (excludeCredentials).
    add_virtual_authenticator(page, transport="usb")
    page.goto("/account/passkeys")
    rows = page.get_by_test_id("passkey-row")
    expect(rows).to_have_count(1)

    page.get_by_test_id("passkey-add").click()
    create_passkey(page)

    expect(page).to_have_url(re.compile(r"/account/passkeys$"))
    expect(page.get_by_test_id("flash")).to_have_text(PASSKEY_ADDED)
    expect(rows).to_have_count(2)

    rows.first.locator("summary").click()
    rows.first.get_by_test_id("passkey-remove").click()
    expect(page.get_by_test_id("flash")).to_have_text(PASSKEY_REMOVED)
    expect(rows).to_have_count(1)

    rows.first.locator("summary").click()
    rows.first.get_by_test_id("passkey-remove").click()  # no confirmed e-mail: the last one must stay
    expect(page.get_by_test_id("flash")).to_have_text(ONLY_PASSKEY)
    expect(rows).to_have_count(1)


# --- offline --------------------------------------------------------------------------------------------


def test_the_card_and_its_qr_open_with_the_network_off(page, context, member):
    visit_card_under_service_worker(page)
    member.authenticator.detach()
    go_offline(context)

    assert page.goto("/card").from_service_worker
    expect(page.get_by_test_id("offline-banner")).to_be_visible()
    expect(page.get_by_test_id("card-member-no")).to_have_text(member.number)
    expect(page.get_by_test_id("card-qr").locator("svg")).to_be_visible()


def test_logging_out_removes_the_card_from_the_offline_copy(page, context, member):
    visit_card_under_service_worker(page)
    assert "/card" in page.evaluate(CACHED_PAGES)

    log_out(page)
    wait_until_not_cached(page, "/card")
    member.authenticator.detach()
    go_offline(context)

    page.goto("/card")
    expect(page.get_by_test_id("offline-page")).to_be_visible()
    expect(page.get_by_test_id("member-card")).to_have_count(0)


def test_the_offline_copy_keeps_the_card_the_wallet_and_only_the_latest_other_pages(page, member):
    limit = int(PAGE_CACHE_LIMIT.search(page.request.get("/sw.js").text()).group(1))
    visit_card_under_service_worker(page)
    page.goto("/wallet")
    others = [f"/?visit={n}" for n in range(limit + 5)]
    for path in others:
        page.goto(path)

    cached = page.evaluate(CACHED_URLS)
    assert "/card" in cached and "/wallet" in cached
    assert sorted(set(cached) - {"/card", "/wallet"}) == sorted(others[-limit:])
    assert len(cached) == len(set(cached)) == limit + 2

    page.goto(others[-limit])  # stored again, so now the newest: the next one to go is the one after it
    page.goto("/?visit=last")
    cached = page.evaluate(CACHED_URLS)
    assert others[-limit] in cached and others[-limit + 1] not in cached
    assert "/card" in cached and "/wallet" in cached


# --- the QR code at the desk ----------------------------------------------------------------------------


def decode_qr(page: Page) -> str:
    """What a scanner reads: a real QR decoder on a screenshot of the card's code."""
    png = page.get_by_test_id("card-qr").screenshot()
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [r.format for r in results] == [zxingcpp.BarcodeFormat.QRCode], results
    return results[0].text


async def staff_session() -> str:
    """A secretariat account and a login session for it (staff passkey logins are tested elsewhere)."""
    account = Account(role="staff", display_name="事務局", webauthn_user_id=passkeys.new_user_handle())
    await account.save()
    return await login_sessions.start(account.id, "pytest staff")


def tampered(code: str) -> str:
    """The code with one character in the middle changed to another base32 character."""
    middle = len(code) // 2
    return code[:middle] + ("B" if code[middle] != "B" else "C") + code[middle + 1 :]


def test_the_qr_decodes_to_a_token_staff_accept_and_a_tampered_one_is_refused(page, browser, live_server, member):
    page.goto("/card")
    code = decode_qr(page)
    assert code == page.get_by_test_id("card-token").input_value()

    desk_context = browser.new_context(base_url=live_server.url, **PHONE)
    desk_context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        desk_context.add_cookies([{"name": AUTH_COOKIE, "value": run_async(staff_session()), "url": live_server.url}])
        desk = desk_context.new_page()

        desk.goto(f"/cards/verify?code={code}")
        expect(desk.get_by_test_id("verify-ok")).to_contain_text(VALID_CARD)
        expect(desk.get_by_test_id("verify-ok")).to_contain_text(f"{NAME} · {member.number}")

        desk.goto(f"/cards/verify?code={tampered(code)}")
        expect(desk.get_by_test_id("verify-refused")).to_contain_text(FORGED_CARD)  # the signature no longer fits
        expect(desk.get_by_test_id("verify-ok")).to_have_count(0)
    finally:
        desk_context.close()


# --- the welcome page's steps -------------------------------------------------------------------------

IPHONE_SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Version/18.1 Mobile/15E148 Safari/604.1")


def test_the_welcome_page_shows_safaris_steps_on_an_iphone_and_the_browsers_own_way_elsewhere(open_browser):
    async def new_member() -> str:
        registered = await factories.member(NAME)
        return await login_sessions.start(registered.account_id, "pytest welcome")

    session = run_async(new_member())
    iphone = open_browser(session, device={**PHONE, "user_agent": IPHONE_SAFARI})
    iphone.goto("/welcome")
    expect(iphone.get_by_test_id("install-iphone")).to_be_visible()
    expect(iphone.get_by_test_id("install-iphone")).to_contain_text("ホーム画面に追加")
    expect(iphone.get_by_test_id("install-other")).to_be_hidden()

    android = open_browser(session)
    android.goto("/welcome")
    expect(android.get_by_test_id("install-iphone")).to_be_hidden()
    # Chromium offers its own install prompt once the page qualifies; until then the menu's way is described.
    expect(android.get_by_test_id("install-button").or_(android.get_by_test_id("install-other")).locator("visible=true")).to_have_count(1)


def test_the_news_tab_counts_unread_notices_until_they_are_read(open_browser):
    async def member_with_news() -> str:
        registered = await factories.member(NAME)
        await notices.notify(registered.account_id, "参加が決まりました：樽前山の森歩き")
        await notices.notify(registered.account_id, "アンケートのお願い")
        return await login_sessions.start(registered.account_id, "pytest news")

    page = open_browser(run_async(member_with_news()))
    page.goto("/card")
    badge = page.get_by_test_id("bottom-nav").get_by_test_id("unread-count")
    expect(badge).to_contain_text("2")
    page.get_by_test_id("bottom-nav").get_by_role("link", name=re.compile("お知らせ")).click()
    expect(page.get_by_test_id("notice")).to_have_count(2)
    page.get_by_test_id("inbox-read-all").click()
    expect(page.get_by_test_id("bottom-nav").get_by_test_id("unread-count")).to_have_count(0)
