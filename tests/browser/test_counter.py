"""The shop counter in a real Chromium: the device's rules (app/static/js/counter_rules.js) decide every case of
tests/cases/counter_rules.json as the server does, with Ed25519 verified by Web Crypto; and the scanner reads
wallets from a fake camera one after the other with no tap between, each used once, the time from the decoded
code to the answer on screen measured and printed."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import qrcode
from PIL import Image
from playwright.sync_api import Page, expect

from app.keyfile import new_signing_key
from app.services.shared.signed_tokens import TokenSigner
from app.services.wallet import wallet
from app.services.wallet.wallet import Region
from db.tables import Redemption, WalletPass
from tests import factories
from tests.browser.conftest import NO_SIDEWAYS_SCROLL, run_async
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
                               ms: Number(root.dataset.lastScanToResultMs || -1) });
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


async def three_wallet_tokens(pass_id: int, settings, signer) -> list[str]:
    region = Region(settings.region_prefecture_code, settings.region_municipality)
    tokens = []
    for name in VISITORS:
        member = await factories.member(name, home_prefecture="13")
        wallet_pass_id = await wallet.activate(member.member_id, pass_id, region, datetime.now(timezone.utc))
        row = await WalletPass.select(WalletPass.expires_at).where(WalletPass.id == wallet_pass_id).first()
        tokens.append(signer.sign("wallet", wallet_pass_id, row["expires_at"]))
    return tokens


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
