"""The shop counter in a real Chromium: the device's rules (app/static/js/counter_rules.js) decide every case of
tests/cases/counter_rules.json as the server does, with Ed25519 verified by Web Crypto; and the scanner reads
wallets from a fake camera one after the other with no tap between, each used once, the time from the decoded
code to the answer on screen measured and printed."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import qrcode
from PIL import Image
from playwright.sync_api import Page, expect

from app.keyfile import new_signing_key
from app.services.membership import login_sessions
from app.services.shared.signed_tokens import TokenSigner
from app.services.wallet import wallet
from app.services.wallet.wallet import Region
from db.tables import Conflict, Redemption, WalletPass
from tests import factories
from tests.browser.conftest import (
    DESKTOP,
    NO_SIDEWAYS_SCROLL,
    go_offline,
    go_online,
    run_async,
    wait_for_service_worker_control,
)
from tests.browser.test_wallet import FRAME_SIZE, Demo, load_demo, shop_staff_session
from tests.cases.counter_rules import case_id, device_bundle, device_input, expected_on_device, load_cases

DECIDE_ALL = """async (cases) => {
  const answers = {};
  for (const c of cases) {
    const answer = await self.Tsunagu.counterRules.decide(c.input, c.bundle);
    answers[c.id] = { decision: answer.decision, reason: answer.reason || '' };
  }
  return answers;
}"""


def load_rules(page: Page) -> None:
    """A page of the app's origin (a secure context, for Web Crypto) with the rules module and what it stands on."""
    page.goto("/healthz")
    page.add_script_tag(url="/static/js/http.js")
    page.add_script_tag(url="/static/js/signed_token.js")
    page.add_script_tag(url="/static/js/counter_rules.js")


def test_the_device_decides_every_case_of_the_counter_table_as_the_table_says(page):
    signer = TokenSigner(new_signing_key())
    cases = load_cases()
    load_rules(page)
    assert page.evaluate("() => typeof self.Tsunagu.counterRules.decide") == "function"
    answers = page.evaluate(DECIDE_ALL, [
        {"id": case_id(case), "input": device_input(case, signer), "bundle": device_bundle(case, signer)} for case in cases
    ])
    expected = {case_id(case): expected_on_device(case) for case in cases}
    assert answers == expected


def test_the_device_refuses_a_genuine_token_when_one_byte_of_its_signature_changes(page):
    signer = TokenSigner(new_signing_key())
    case = load_cases()[0]
    token = device_input(case, signer)["text"]
    tampered = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    load_rules(page)
    answer = page.evaluate(DECIDE_ALL, [{"id": "t", "input": {**device_input(case, signer), "text": tampered},
                                         "bundle": device_bundle(case, signer)}])
    assert answer["t"] == {"decision": "refused", "reason": "forged"}


# A browser with Web Crypto but no Ed25519 in it, as Chrome before 137 or Safari before 17.
NO_ED25519_IN_WEB_CRYPTO = """
(() => {
  const importKey = crypto.subtle.importKey.bind(crypto.subtle);
  crypto.subtle.importKey = (format, key, algorithm, ...rest) =>
    (algorithm && (algorithm === 'Ed25519' || algorithm.name === 'Ed25519'))
      ? Promise.reject(new DOMException('Ed25519 is not supported', 'NotSupportedError'))
      : importKey(format, key, algorithm, ...rest);
})();
"""


def test_without_ed25519_in_web_crypto_the_vendored_library_decides_every_case_the_same(page):
    signer = TokenSigner(new_signing_key())
    cases = load_cases()
    page.add_init_script(NO_ED25519_IN_WEB_CRYPTO)
    page.goto("/healthz")
    page.add_script_tag(url="/static/vendor/noble-ed25519-2.3.0.js")
    page.evaluate("""() => {
      const verify = self.nobleEd25519.verifyAsync;
      self.__nobleCalls = 0;
      self.nobleEd25519.verifyAsync = (...args) => { self.__nobleCalls += 1; return verify(...args); };
    }""")
    for script in ("http.js", "signed_token.js", "counter_rules.js"):
        page.add_script_tag(url=f"/static/js/{script}")
    answers = page.evaluate(DECIDE_ALL, [
        {"id": case_id(case), "input": device_input(case, signer), "bundle": device_bundle(case, signer)} for case in cases
    ])
    assert answers == {case_id(case): expected_on_device(case) for case in cases}
    assert page.evaluate("() => self.__nobleCalls") > 0
    case = cases[0]
    token = device_input(case, signer)["text"]
    tampered = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    forged = page.evaluate(DECIDE_ALL, [{"id": "t", "input": {**device_input(case, signer), "text": tampered},
                                         "bundle": device_bundle(case, signer)}])
    assert forged["t"] == {"decision": "refused", "reason": "forged"}


# --- the scanner at the counter ------------------------------------------------------------------------

SEGMENT_FRAMES = 20  # two seconds a wallet at ten frames a second; then the next one is held up
CLIP_HEADER = b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n"
VISITORS = ("旅する一郎", "旅する二郎", "旅する三郎")
# The browser says the camera still needs asking, as on a tablet's first visit: the scanner waits for its button.
ASK_FOR_THE_CAMERA = """
(() => {
  const query = navigator.permissions.query.bind(navigator.permissions);
  navigator.permissions.query = (what) => what && what.name === 'camera' ? Promise.resolve({ state: 'prompt' }) : query(what);
})();
"""
WATCH = """() => {
  window.__verdicts = [];
  window.__vibrations = [];
  navigator.vibrate = (pattern) => { window.__vibrations.push(pattern); return true; };
  const root = document.querySelector('[data-counter]');
  new MutationObserver(() => {
    const verdict = document.querySelector('#scan-result [data-verdict]');
    if (verdict && !verdict.dataset.seen) {
      verdict.dataset.seen = '1';
      window.__verdicts.push({ kind: verdict.dataset.verdict, reason: verdict.dataset.reason || '', text: verdict.innerText,
                               ms: Number(root.dataset.lastScanToResultMs || -1), offline: verdict.dataset.offline === '1' });
    }
  }).observe(root, { subtree: true, childList: true, attributes: true });
}"""


@pytest.fixture
def demo() -> Demo:
    """The demo shops, offers and pass (app/demo/wallet.py)."""
    return run_async(load_demo())


def write_clip_of_codes(path: Path, texts: list[str]) -> None:
    """A clip showing each text as a QR code for two seconds, one after the other (Chromium loops it)."""
    frames = []
    for text in texts:
        code = qrcode.make(text, box_size=8, border=4).get_image().convert("RGB")
        frame = Image.new("RGB", FRAME_SIZE, "white")
        frame.paste(code, ((FRAME_SIZE[0] - code.width) // 2, (FRAME_SIZE[1] - code.height) // 2))
        y, cb, cr = frame.convert("YCbCr").split()
        quarter = (FRAME_SIZE[0] // 2, FRAME_SIZE[1] // 2)
        frames.append((b"FRAME\n" + y.tobytes() + cb.resize(quarter).tobytes() + cr.resize(quarter).tobytes()) * SEGMENT_FRAMES)
    path.write_bytes(CLIP_HEADER + b"".join(frames))


async def wallets(names: tuple[str, ...], pass_id: int, settings, signer) -> list[tuple[int, str]]:
    """(wallet pass id, the token its QR shows) for a member of each name with the pass activated."""
    region = Region(settings.region_prefecture_code, settings.region_municipality)
    found = []
    for name in names:
        member = await factories.member(name, home_prefecture="13")
        wallet_pass_id = await wallet.activate(member.member_id, pass_id, region, datetime.now(timezone.utc))
        row = await WalletPass.select(WalletPass.expires_at).where(WalletPass.id == wallet_pass_id).first()
        found.append((wallet_pass_id, signer.sign("wallet", wallet_pass_id, row["expires_at"])))
    return found


async def three_wallet_tokens(pass_id: int, settings, signer) -> list[str]:
    return [token for _id, token in await wallets(VISITORS, pass_id, settings, signer)]


def test_the_counter_reads_three_wallets_in_a_row_with_no_tap_and_each_once(
    demo, live_server, open_camera_phone, camera_clip
):
    tokens = run_async(three_wallet_tokens(demo.pass_id, live_server.settings, live_server.app.state.signer))
    write_clip_of_codes(camera_clip, tokens)
    counter = open_camera_phone(run_async(shop_staff_session(demo.shop_id)))
    # The clerk chooses the offer before the camera starts: a camera already allowed would start by itself
    # and read the first wallet while the choice is being made.
    counter.context.add_init_script(ASK_FOR_THE_CAMERA)
    counter.goto("/shop/scan")
    expect(counter.locator("[data-counter][data-wired]")).to_have_count(1)
    # Once-a-day curry for every code read: the clip loops, so each wallet comes back and must be refused.
    counter.get_by_test_id("counter-offer").select_option(str(demo.curry_id))
    counter.evaluate(WATCH)
    counter.get_by_test_id("scanner-start").click()

    today = counter.get_by_test_id("today-row")
    expect(today).to_have_count(3, timeout=30_000)
    for name in VISITORS:
        expect(today.filter(has_text=name)).to_have_count(1)
    # Round two of the loop: the same wallets, each refused as used today, none recorded twice.
    counter.wait_for_function("() => window.__verdicts.filter(v => v.kind === 'refused').length >= 1", timeout=30_000)
    verdicts = counter.evaluate("() => window.__verdicts")
    assert [v["kind"] for v in verdicts][:3] == ["ok", "ok", "ok"]
    refused = [v for v in verdicts if v["kind"] == "refused"][0]
    words = counter.evaluate("() => fetch('/shop/counter-bundle').then(r => r.json()).then(b => b.messages)")
    assert refused["reason"] == "already_used_today"
    assert words["already_used_today"]["headline"] in refused["text"] and "無効です" not in refused["text"]
    assert run_async(Redemption.count().run()) == 3
    assert counter.evaluate("() => window.__vibrations.length") >= 4
    timings = [v["ms"] for v in verdicts if v["ms"] >= 0]
    print(f"\nscan-to-result (decode to verdict on screen), ms: {timings}")
    assert timings and max(timings) < 5000

    # The controls fit a tablet held sideways, with no sideways scrolling.
    counter.set_viewport_size({"width": 844, "height": 390})
    assert counter.evaluate(NO_SIDEWAYS_SCROLL)


# --- offline, by itself ----------------------------------------------------------------------------------

BUNDLE_KEPT = "() => Object.keys(localStorage).some(key => key.startsWith('tsunagu.counter.bundle.'))"


def wait_until(check, what: str, seconds: float = 30) -> None:
    """Polls `check()` (bounded), for what happens in the database or the page outside Playwright's own waits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"still waiting for {what}")


def open_the_counter(open_camera_phone, shop_id: int, offer_id: int, offline_from_the_start: bool = False) -> Page:
    """A counter tablet of the shop, its scanner visited once online (it keeps the page and the bundle), then the
    offer used for every read chosen; the camera waits for its button."""
    counter = open_camera_phone(run_async(shop_staff_session(shop_id)))
    counter.context.add_init_script(ASK_FOR_THE_CAMERA)
    counter.goto("/shop/scan")
    wait_for_service_worker_control(counter)
    counter.goto("/shop/scan")
    expect(counter.locator("[data-counter][data-wired]")).to_have_count(1)
    wait_until(lambda: counter.evaluate(BUNDLE_KEPT), "the counter to keep its bundle")
    if offline_from_the_start:
        go_offline(counter.context)
        assert counter.goto("/shop/scan").from_service_worker  # the scanner opens with no network at all
        expect(counter.locator("[data-counter][data-wired]")).to_have_count(1)
    counter.get_by_test_id("counter-offer").select_option(str(offer_id))
    counter.evaluate(WATCH)
    return counter


def offline_verdicts(counter: Page) -> list[dict]:
    return [v for v in counter.evaluate("() => window.__verdicts") if v["offline"]]


def test_with_no_network_the_counter_decides_by_itself_and_sends_the_use_once_when_back(
    demo, live_server, open_camera_phone, camera_clip
):
    (kept, kept_token), (stopped, stopped_token) = run_async(wallets(
        ("旅する四郎", "旅する五郎"), demo.pass_id, live_server.settings, live_server.app.state.signer))
    run_async(WalletPass.update({WalletPass.status: "revoked"}).where(WalletPass.id == stopped).run())
    write_clip_of_codes(camera_clip, [stopped_token, kept_token])
    counter = open_the_counter(open_camera_phone, demo.shop_id, demo.curry_id, offline_from_the_start=True)
    banner = counter.get_by_test_id("counter-banner")
    expect(banner).to_contain_text("この端末だけで判定")

    counter.get_by_test_id("scanner-start").click()
    wait_until(lambda: {(v["kind"], v["reason"]) for v in offline_verdicts(counter)} >= {("ok", ""), ("refused", "revoked")},
               "one wallet accepted and the revoked one refused, both on the device")
    expect(banner).to_contain_text("送信待ち 1件")
    assert run_async(Redemption.count().run()) == 0
    timings = [v["ms"] for v in offline_verdicts(counter) if v["ms"] >= 0]
    print(f"\nscan-to-result offline (decode to verdict on screen), ms: {timings}")

    go_online(counter.context)
    wait_until(lambda: run_async(Redemption.count().run()) == 1, "the waiting use to reach the server")
    expect(banner).not_to_contain_text("送信待ち")
    row = run_async(Redemption.select(Redemption.wallet_pass, Redemption.offline, Redemption.offer).first().run())
    assert row == {"wallet_pass": kept, "offline": True, "offer": demo.curry_id}
    counter.wait_for_timeout(2500)  # the clip comes round again, now online: refused by the server, not counted
    assert run_async(Redemption.count().run()) == 1
    assert run_async(Conflict.count().run()) == 0


def test_two_offline_tablets_giving_one_offer_make_one_use_and_one_conflict_that_staff_see(
    demo, live_server, open_camera_phone, open_browser, camera_clip
):
    [(wallet_pass_id, token)] = run_async(wallets(("旅する六郎",), demo.pass_id, live_server.settings,
                                                  live_server.app.state.signer))
    write_clip_of_codes(camera_clip, [token])
    tablets = [open_the_counter(open_camera_phone, demo.shop_id, demo.curry_id) for _ in range(2)]
    for tablet in tablets:
        go_offline(tablet.context)
        tablet.get_by_test_id("scanner-start").click()
        wait_until(lambda tablet=tablet: any(v["kind"] == "ok" for v in offline_verdicts(tablet)),
                   "an offline OK on each tablet")

    go_online(tablets[0].context)
    wait_until(lambda: run_async(Redemption.count().run()) == 1, "the first tablet's use to be counted")
    go_online(tablets[1].context)
    wait_until(lambda: run_async(Conflict.count().run()) == 1, "the second tablet's use to become a conflict")
    expect(tablets[1].get_by_test_id("counter-banner")).to_contain_text("事務局が確認します")
    assert run_async(Redemption.count().run()) == 1

    office = open_browser(run_async(staff_session()), device=DESKTOP)
    office.goto("/staff/wallet/conflicts")
    row = office.get_by_test_id("conflict-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("旅する六郎")
    expect(row).to_contain_text("利用済み")
    expect(office.get_by_test_id("console-nav-staff-conflicts-count")).to_have_text("1")
    office.get_by_test_id("conflict-review").click()
    expect(office.get_by_test_id("conflict-row")).to_have_count(0)
    conflict = run_async(Conflict.select(Conflict.wallet_pass, Conflict.reviewed_at).first().run())
    assert conflict["wallet_pass"] == wallet_pass_id and conflict["reviewed_at"] is not None


async def staff_session() -> str:
    account_id = await factories.staff_account("事務局 佐藤")
    return await login_sessions.start(account_id, "pytest staff")
