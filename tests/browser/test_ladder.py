"""The whole premium ladder in real browsers, as people climb it: a member with two local activities behind
them scans the third activity's QR with no signal, sees it wait on the phone and sent once the network is
back; with three they apply for premium from the account menu; the secretariat approves in the review queue;
the member's card shows premium until its end date and the certificate opens. At a shop's counter a basic
member's wallet is refused the premium-only offer, with the reason, and nothing is recorded.

Each person has a browser profile of their own; the member's phone and the shop's counter play the QR they
read from Chromium's fake camera (`camera_clip`, rewritten before each scan).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from playwright.sync_api import expect

from app.i18n import TOKYO
from app.services.activities import check_ins
from app.services.shared import clock
from app.services.shared.signed_tokens import TokenSigner
from db.tables import CheckIn, Member, PremiumApplication, Redemption
from tests import factories
from tests.browser.conftest import DESKTOP, run_async
from tests.browser.test_activities import member_at_an_activity, scan_offline_and_send_once_online, today
from tests.browser.test_programs import staff_session
from tests.browser.test_wallet import scan_with_the_camera, shop_staff_session, visitor_session, write_camera_clip

HOME = "東京都世田谷区"
BASIC_MEMBER = "旅する次郎"


async def two_activities_behind(signer: TokenSigner, member_id: int) -> list[int]:
    """Two counted activities of past weeks, each checked in with its day's code (as the phone sends it);
    their ids, oldest first."""
    area = await factories.area("樽前", "tarumae")
    activities = []
    for n, days_ago in enumerate((17, 10)):
        moment = clock.now() - timedelta(days=days_ago)
        day = moment.astimezone(TOKYO).date()
        activity = await factories.activity(area, title=f"浜のごみ拾い{n}", starts_on=day, ends_on=day)
        await check_ins.with_code(signer, check_ins.code_for(signer, activity, day), member_id, f"earlier-check-in-{n}",
                                  None, moment)
        activities.append(activity)
    return activities


async def basic_member_with_a_premium_only_offer() -> tuple[int, int, str]:
    """A coworking shop whose only offer is for premium members, in a pass a basic member from Tokyo carries:
    (shop, offer, the member's session)."""
    shop_id, (offer_id,) = await factories.shop_with_offers(
        "ベイサイド・コワーキング", {"title": "ブース1時間無料", "premium_only": True, "limit_kind": "per_day"})
    pass_id = await factories.entry_pass(offer_id)
    registered, session = await visitor_session(BASIC_MEMBER)
    await factories.wallet_pass(registered.member_id, pass_id, datetime.now(timezone.utc))
    return shop_id, offer_id, session


async def member_row(member_id: int) -> dict:
    return await Member.select(Member.tier, Member.premium_until).where(Member.id == member_id).first()


def test_a_member_climbs_to_premium_and_a_basic_member_is_refused_a_premium_only_offer(
    open_browser, open_camera_phone, live_server, camera_clip
):
    signer = live_server.app.state.signer

    # 1. Two activities behind them; the third scanned at the venue with no signal, sent once back online.
    activity, member_id, session = run_async(member_at_an_activity())
    earlier = run_async(two_activities_behind(signer, member_id))
    write_camera_clip(camera_clip, check_ins.code_for(signer, activity, today()))
    phone = open_camera_phone(session)
    scan_offline_and_send_once_online(phone, activity, member_id)
    assert run_async(CheckIn.count().where(CheckIn.member == member_id).run()) == 3

    # 2. Three: アカウント → プレミアム登録, the application sent and waiting.
    phone.goto("/")
    phone.get_by_test_id("account-link").click()
    phone.get_by_test_id("menu-premium").click()
    expect(phone.get_by_test_id("premium-progress")).to_contain_text("3 / 3")
    form = phone.get_by_test_id("premium-apply")
    expect(form.get_by_test_id("premium-evidence-item")).to_have_count(3)
    form.get_by_test_id("field-home_municipality").fill(HOME)
    form.get_by_test_id("premium-submit").click()
    expect(phone.get_by_test_id("premium-waiting")).to_be_visible()
    expect(phone.get_by_test_id("premium-apply")).to_have_count(0)
    applied = run_async(PremiumApplication.select().where(PremiumApplication.member == member_id).output(load_json=True).run())
    assert [(a["status"], a["home_municipality"]) for a in applied] == [("submitted", HOME)]
    assert [(e["source"], e["id"]) for e in applied[0]["evidence"]] == [("activity", a) for a in [*earlier, activity]]

    # 3. The secretariat, at a desk: the review queue narrowed to premium, the application with its three
    # activities, approved.
    staff = open_browser(run_async(staff_session()), device=DESKTOP)
    staff.goto("/staff/moderation")
    staff.get_by_test_id("moderation-kind").select_option("premium")
    item = staff.locator('[data-testid="moderation-item"][data-kind="premium"]')
    expect(item).to_have_count(1)
    expect(staff.get_by_test_id("moderation-item")).to_have_count(1)  # nothing but premium applications
    expect(item.get_by_test_id("premium-home")).to_have_text(HOME)
    expect(item.get_by_test_id("premium-evidence-item")).to_have_count(3)
    item.get_by_test_id("premium-approve").click()
    expect(staff.get_by_test_id("flash")).to_be_visible()
    expect(staff.get_by_test_id("moderation-item")).to_have_count(0)
    approved = run_async(PremiumApplication.select().where(PremiumApplication.member == member_id).first().run())
    assert approved["status"] == "approved" and approved["certificate_no"]
    member = run_async(member_row(member_id))
    assert member == {"tier": "premium", "premium_until": approved["valid_until"]}

    # 4. The member's card shows premium until its end date; the certificate opens.
    phone.goto("/card")
    expect(phone.get_by_test_id("member-card")).to_have_class(re.compile(r"\bmember-card-premium\b"))
    expect(phone.get_by_test_id("card-tier")).to_be_visible()
    expect(phone.get_by_test_id("card-premium-until")).to_have_attribute("datetime", member["premium_until"].isoformat())
    phone.goto("/account/premium")
    expect(phone.get_by_test_id("premium-active")).to_be_visible()
    phone.get_by_test_id("premium-certificate-link").click()
    # A document of its own, laid out for A4 by its print stylesheet, not swapped into the app's page
    expect(phone.locator('body.report[data-testid="premium-certificate"]')).to_be_visible()
    expect(phone.locator('link[rel="stylesheet"][href*="print"]')).to_have_count(1)
    expect(phone.get_by_test_id("certificate-no")).to_have_text(approved["certificate_no"])

    # 5. A basic member shows their wallet at a coworking shop: the premium-only offer is refused with the
    # reason, and a tap sent anyway (a stale screen) is refused by the server; no use is recorded.
    shop_id, offer_id, basic_session = run_async(basic_member_with_a_premium_only_offer())
    wallet = open_browser(basic_session)
    wallet.goto("/wallet")
    expect(wallet.get_by_test_id("wallet-qr")).to_be_visible()
    write_camera_clip(camera_clip, wallet.get_by_test_id("wallet-token").input_value())
    counter = open_camera_phone(run_async(shop_staff_session(shop_id)))
    scan_with_the_camera(counter)
    button = counter.get_by_test_id(f"use-offer-{offer_id}")
    expect(button).to_be_disabled()
    expect(counter.get_by_test_id("offer-reason")).to_have_attribute("data-reason", "premium_only")
    button.evaluate("button => { button.disabled = false; button.removeAttribute('aria-disabled'); }")
    button.click()
    expect(counter.get_by_test_id("redeem-refused")).to_have_attribute("data-reason", "premium_only")
    expect(counter.get_by_test_id("redeem-ok")).to_have_count(0)
    assert run_async(Redemption.count().run()) == 0
