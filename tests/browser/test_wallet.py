"""The entry pass in real browsers: a visitor activates it and carries the wallet (also offline); a shop's
phone reads the wallet's QR from its camera, uses an offer once and is refused the second time today; the
short code typed by hand works too, and a mistaken tap can be undone; the member's open wallet shows a use within
seconds, without a reload.

The shop's camera is Chromium's fake capture device playing a .y4m clip made here from the wallet's token
(`camera_browser` in conftest.py), so the vendored jsQR decodes real video frames: no QR decoding in Python.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
import qrcode
from PIL import Image
from playwright.sync_api import BrowserContext, Page, expect

from app.auth import AUTH_COOKIE
from app.demo.wallet import load_wallet_demo
from app.services.membership import login_sessions
from app.services.membership.membership import Registered
from app.services.wallet import redemption, wallet
from app.services.wallet.wallet import Region
from db.tables import Offer, Pass, Shop, WalletPass
from tests import factories
from tests.browser.conftest import (
    LiveServer,
    add_virtual_authenticator,
    go_offline,
    run_async,
    wait_for_service_worker_control,
)
from tests.browser.test_membership import NAME, register

PASS_NAME = "苫小牧エントリーパス 2026"
SHOP_NAME = "海鮮食堂 ほっき屋"
CURRY = "ほっきカレー 大盛り無料"  # once a day
SIDE_DISH = "小鉢1品サービス"  # unlimited
OFFERS_IN_PASS = 8  # one of them for premium members only (the coworking booth)
VISITOR = "旅する次郎"
ACTIVATED = "パスの利用を開始しました。お店でQRコードを見せてください。"
USED_TODAY = "本日はすでに利用済みです。"
TAKEN_BACK = "利用を取り消しました。"
SHORT_CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")

# --- the shop's camera ---------------------------------------------------------------------------------

FRAME_SIZE = (640, 480)
Y4M_HEADER = b"YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg\n"
FRAMES = 30  # one second; Chromium loops the clip


def write_camera_clip(path: Path, text: str) -> None:
    """A one-second .y4m clip of `text` as a QR code on white: what a phone held up to the camera looks like."""
    code = qrcode.make(text, box_size=8, border=4).get_image().convert("RGB")
    frame = Image.new("RGB", FRAME_SIZE, "white")
    frame.paste(code, ((FRAME_SIZE[0] - code.width) // 2, (FRAME_SIZE[1] - code.height) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    quarter = (FRAME_SIZE[0] // 2, FRAME_SIZE[1] // 2)  # I420: full-size luma, chroma halved both ways
    planes = y.tobytes() + cb.resize(quarter).tobytes() + cr.resize(quarter).tobytes()
    path.write_bytes(Y4M_HEADER + (b"FRAME\n" + planes) * FRAMES)


# --- the rows the tests stand on -----------------------------------------------------------------------


@dataclass(frozen=True)
class Demo:
    pass_id: int
    shop_id: int
    curry_id: int
    side_dish_id: int


async def load_demo() -> Demo:
    await load_wallet_demo()
    entry_pass = await Pass.select(Pass.id).where(Pass.name == PASS_NAME).first()
    shop = await Shop.select(Shop.id).where(Shop.name == SHOP_NAME).first()
    offers = {o["title"]: o["id"] for o in await Offer.select(Offer.id, Offer.title).where(Offer.shop == shop["id"])}
    return Demo(entry_pass["id"], shop["id"], offers[CURRY], offers[SIDE_DISH])


@pytest.fixture
def demo() -> Demo:
    """The demo shops, offers and pass (app/demo/wallet.py)."""
    return run_async(load_demo())


async def shop_staff_session(shop_id: int) -> str:
    """A shop account for the restaurant and a login session (staff passkey logins are tested elsewhere)."""
    account_id = await factories.staff_account("店員 田中", role="shop", shop=shop_id)
    return await login_sessions.start(account_id, "pytest shop")


async def visitor_session(name: str) -> tuple[Registered, str]:
    """A member from Tokyo (registering through the pages is test_membership.py's job) and a login session."""
    registered = await factories.member(name, home_prefecture="13")
    return registered, await login_sessions.start(registered.account_id, "pytest member")


async def activated_short_code(member_id: int, pass_id: int, settings) -> str:
    region = Region(settings.region_prefecture_code, settings.region_municipality)
    wallet_pass_id = await wallet.activate(member_id, pass_id, region, datetime.now(timezone.utc))
    row = await WalletPass.select(WalletPass.short_code).where(WalletPass.id == wallet_pass_id).first()
    return row["short_code"]


def log_in(context: BrowserContext, live_server: LiveServer, session: str) -> None:
    context.add_cookies([{"name": AUTH_COOKIE, "value": session, "url": live_server.url}])


@pytest.fixture
def visitor(context, live_server) -> Registered:
    """A member from Tokyo, logged in in `page`'s browser."""
    registered, session = run_async(visitor_session(VISITOR))
    log_in(context, live_server, session)
    return registered


@pytest.fixture
def counter(open_camera_phone, demo) -> Page:
    """The restaurant's phone: shop staff logged in, the camera allowed (it plays `camera_clip`)."""
    return open_camera_phone(run_async(shop_staff_session(demo.shop_id)))


# --- what people do ------------------------------------------------------------------------------------


def activate_the_pass(page: Page, demo: Demo) -> None:
    page.goto("/passes")
    page.get_by_test_id(f"activate-{demo.pass_id}").click()
    expect(page).to_have_url(re.compile(r"/wallet$"))
    expect(page.get_by_test_id("flash")).to_have_text(ACTIVATED)


def scan_with_the_camera(counter: Page) -> str:
    """Opens the scanner (its camera starts by itself: the camera is allowed) and waits for the offers of the
    decoded wallet, shown in place while the camera stays on; returns the code the offers will be used with."""
    counter.goto("/shop/scan")
    expect(counter.locator("[data-counter][data-wired] [data-scanner][data-wired]")).to_have_count(1)
    expect(counter.locator("[data-scanner][data-scanning]")).to_have_count(1)
    expect(counter.get_by_test_id("scan-preview")).to_be_visible()
    return counter.locator('#scan-result input[name="code"]').first.input_value()


def offer_row(counter: Page, offer_id: int):
    return counter.get_by_test_id("scan-offer").filter(has=counter.get_by_test_id(f"use-offer-{offer_id}"))


def wallet_offer(page: Page, title: str):
    return page.get_by_test_id("wallet-offer").filter(has_text=title)


def usage_of(page: Page, title: str):
    """What is left of an offer; its data-state (left, used, unlimited, premium_only) says it in any language."""
    return wallet_offer(page, title).get_by_test_id("wallet-offer-usage")


# --- the member's wallet -------------------------------------------------------------------------------


def test_a_visitor_from_tokyo_activates_the_pass_and_sees_it_in_the_wallet(page, demo):
    add_virtual_authenticator(page)
    register(page)  # home prefecture 13 東京都: outside the region, so the visitor pass is allowed

    activate_the_pass(page, demo)

    card = page.get_by_test_id("wallet-pass")
    expect(card).to_have_count(1)
    expect(card).to_contain_text(PASS_NAME)
    expect(card).to_contain_text(NAME)
    expect(card.get_by_test_id("wallet-days-left")).to_have_text("残り30日")
    expect(card.get_by_test_id("wallet-offer")).to_have_count(OFFERS_IN_PASS)
    expect(usage_of(page, CURRY)).to_have_attribute("data-state", "left")
    expect(card.get_by_test_id("wallet-qr").locator("svg")).to_be_visible()
    expect(card.get_by_test_id("wallet-short-code")).to_have_text(SHORT_CODE)
    clock = card.locator("[data-live-clock]")
    shown = clock.inner_text()
    expect(clock).not_to_have_text(shown, timeout=2_500)  # a live screen ticks; a screenshot would not

    page.goto("/passes")  # activated once: the pass page now points to the wallet instead
    expect(page.get_by_test_id(f"activate-{demo.pass_id}")).to_have_count(0)


def test_the_wallet_shows_its_qr_with_the_network_off(page, context, demo, visitor):
    activate_the_pass(page, demo)
    wait_for_service_worker_control(page)
    page.goto("/wallet")  # under the worker's control now, so it keeps this copy
    expect(page.get_by_test_id("wallet-qr")).to_be_visible()

    go_offline(context)
    assert page.goto("/wallet").from_service_worker
    expect(page.get_by_test_id("offline-banner")).to_be_visible()
    expect(page.get_by_test_id("wallet-qr").locator("svg")).to_be_visible()
    expect(page.get_by_test_id("wallet-short-code")).to_have_text(SHORT_CODE)
    expect(page.get_by_test_id("wallet-updated")).to_have_text(re.compile(r"^最終更新 \S"))


SHOWN_WITHIN_S = 8  # the wallet polls every 4 s
PAGE_HIDDEN = "(hidden) => { Object.defineProperty(document, 'visibilityState', {value: hidden ? 'hidden' : 'visible', " \
              "configurable: true}); document.dispatchEvent(new Event('visibilitychange')); }"


async def use_at_the_counter(live_server: LiveServer, token: str, shop_id: int, offer_id: int) -> None:
    """A use recorded as the counter records it (the counter's own pages are tested below)."""
    staff = await factories.staff_account("店員 田中", role="shop", shop=shop_id)
    await redemption.redeem(live_server.app.state.signer, token, offer_id, shop_id, staff, secrets.token_urlsafe(8),
                            datetime.now(timezone.utc))


def test_the_open_wallet_shows_a_use_at_the_counter_within_seconds_without_a_reload(page, demo, visitor, live_server):
    activate_the_pass(page, demo)
    expect(usage_of(page, CURRY)).to_have_attribute("data-state", "left")
    expect(page.get_by_test_id("history-row")).to_have_count(0)
    # Marks on this visit and on the drawn QR code: a reload or a redrawn card would lose them.
    page.evaluate("() => { window.__sameVisit = true; document.querySelector('[data-testid=wallet-qr] svg').__drawn = true; }")
    polls: list[str] = []
    page.on("request", lambda request: polls.append(request.url) if "/wallet/uses" in request.url else None)

    run_async(use_at_the_counter(live_server, page.get_by_test_id("wallet-token").input_value(), demo.shop_id, demo.curry_id))
    used_at = time.monotonic()
    expect(usage_of(page, CURRY)).to_have_attribute("data-state", "used", timeout=SHOWN_WITHIN_S * 1000)
    shown_after_s = time.monotonic() - used_at
    expect(page.get_by_test_id("history-row")).to_have_count(1)
    expect(page.get_by_test_id("history-row")).to_contain_text(f"{SHOP_NAME} — {CURRY}")
    expect(usage_of(page, SIDE_DISH)).to_have_attribute("data-state", "unlimited")
    assert page.evaluate("() => window.__sameVisit === true && document.querySelector('[data-testid=wallet-qr] svg').__drawn === true")
    assert shown_after_s < SHOWN_WITHIN_S, shown_after_s

    # Out of sight (another app in front, the phone locked) it asks nothing; back on screen it asks at once.
    page.evaluate(PAGE_HIDDEN, True)
    page.wait_for_timeout(300)  # a poll already under way may still finish
    polls.clear()
    page.wait_for_timeout(5_000)
    assert polls == []
    page.evaluate(PAGE_HIDDEN, False)
    for _ in range(30):
        if polls:
            break
        page.wait_for_timeout(100)
    assert len(polls) == 1


# --- at the shop ----------------------------------------------------------------------------------------


def test_the_shop_reads_the_qr_with_its_camera_uses_an_offer_and_a_second_use_today_is_refused(
    page, demo, visitor, counter, camera_clip
):
    activate_the_pass(page, demo)
    token = page.get_by_test_id("wallet-token").input_value()
    short_code = page.get_by_test_id("wallet-short-code").inner_text()
    write_camera_clip(camera_clip, token)

    assert scan_with_the_camera(counter) == token
    expect(counter.get_by_test_id("scan-member")).to_have_text(VISITOR)
    expect(counter.get_by_test_id("scan-offer")).to_have_count(2)  # this shop's offers only, not all seven
    counter.get_by_test_id(f"use-offer-{demo.curry_id}").click()
    ok = counter.get_by_test_id("redeem-ok")
    expect(ok).to_contain_text("OK")
    expect(ok).to_contain_text(CURRY)
    expect(ok).to_contain_text(VISITOR)

    # The same wallet again: the daily offer is greyed out with the reason; the unlimited one is still there.
    assert scan_with_the_camera(counter) == token
    expect(counter.get_by_test_id(f"use-offer-{demo.curry_id}")).to_be_disabled()
    expect(offer_row(counter, demo.curry_id).get_by_test_id("offer-reason")).to_have_text(USED_TODAY)
    expect(counter.get_by_test_id(f"use-offer-{demo.side_dish_id}")).to_be_enabled()

    # Sent anyway (a stale screen, a second tablet): typed code, a fresh nonce, and the server still says no.
    counter.get_by_test_id("counter-offer").select_option("")  # (the default) show the offers to choose
    counter.get_by_test_id("manual-code").fill(short_code)
    expect(counter.get_by_test_id("manual-code")).to_have_value(short_code)  # as shown on the wallet: ABCD-2345
    counter.get_by_test_id("manual-submit").click()
    expect(counter.locator('#scan-result input[name="code"]').first).to_have_value(short_code)
    button = counter.get_by_test_id(f"use-offer-{demo.curry_id}")
    button.evaluate("button => { button.disabled = false; button.removeAttribute('aria-disabled'); }")
    button.click()
    expect(counter.get_by_test_id("redeem-refused")).to_contain_text(USED_TODAY)
    expect(counter.get_by_test_id("redeem-ok")).to_have_count(0)

    # The member's phone, open all along, has followed the counter.
    expect(page.get_by_test_id("history-row")).to_have_count(1)
    expect(page.get_by_test_id("history-row")).to_contain_text(f"{SHOP_NAME} — {CURRY}")
    expect(usage_of(page, CURRY)).to_have_attribute("data-state", "used")


def test_the_shop_types_the_short_code_then_undoes_a_mistaken_use(counter, demo, live_server):
    registered, _session = run_async(visitor_session(VISITOR))
    short_code = run_async(activated_short_code(registered.member_id, demo.pass_id, live_server.settings))
    typed = f"{short_code[:4]}-{short_code[4:]}".lower()  # as read aloud and typed on a phone

    counter.goto("/shop/scan")
    expect(counter.locator("[data-counter][data-wired]")).to_have_count(1)
    counter.get_by_test_id("manual-code").fill(typed)
    counter.get_by_test_id("manual-submit").click()
    expect(counter.get_by_test_id("scan-member")).to_have_text(VISITOR)
    expect(counter.get_by_test_id("scan-offer")).to_have_count(2)
    counter.get_by_test_id(f"use-offer-{demo.side_dish_id}").click()  # meant the curry: a mistaken tap
    expect(counter.get_by_test_id("redeem-ok")).to_contain_text(SIDE_DISH)

    counter.goto("/shop")
    today = counter.get_by_test_id("today-row")
    expect(today).to_have_count(1)
    expect(today).to_contain_text(SIDE_DISH)
    expect(today).to_contain_text(VISITOR)
    expect(counter.get_by_test_id("month-count")).to_have_text("今月の利用：1件")
    today.get_by_test_id("undo").click()

    expect(counter.get_by_test_id("flash")).to_have_text(TAKEN_BACK)
    expect(today).to_contain_text("取り消し済み")
    expect(today.get_by_test_id("undo")).to_have_count(0)
    expect(counter.get_by_test_id("month-count")).to_have_text("今月の利用：0件")
