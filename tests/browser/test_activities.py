"""Checking in at a designated activity in a real browser: a member's phone with no signal at the venue opens
the check-in page, reads the day's QR with its camera, decides it on the phone (the Ed25519 signature with
WebCrypto, the day against the phone's clock), keeps the check-in and sends it once the network is back; a
code of another day is refused on the phone at once.

The camera is Chromium's fake capture device playing a clip of the QR (`camera_browser` in conftest.py, the
clip made as test_wallet.py makes it), so the vendored jsQR decodes real video frames.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import Browser, Page, expect

from app.i18n import to_tokyo
from app.services.activities import check_ins
from app.services.membership import login_sessions
from db.tables import CheckIn
from tests import factories
from tests.browser.conftest import (
    ACTION_TIMEOUT_MS,
    PHONE,
    go_offline,
    go_online,
    run_async,
    wait_for_service_worker_control,
)
from tests.browser.test_wallet import log_in, write_camera_clip

CHECK_IN_PAGE = "/activities/check-in"


def today():
    return to_tokyo(datetime.now(timezone.utc)).date()


async def member_at_an_activity() -> tuple[int, str]:
    """An activity open this week, and a logged-in member's session."""
    area = await factories.area()
    activity = await factories.activity(area, starts_on=today() - timedelta(days=3), ends_on=today() + timedelta(days=3))
    registered = await factories.member("つなぐ花子")
    return activity, await login_sessions.start(registered.account_id, "pytest member")


@pytest.fixture
def phone(camera_browser: Browser, live_server):
    """A member's phone whose camera plays `camera_clip`; the test logs it in."""
    context = camera_browser.new_context(base_url=live_server.url, **PHONE)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.grant_permissions(["camera"], origin=live_server.url)
    yield context
    context.close()


def open_the_check_in_page_offline(page: Page) -> None:
    """Visited once with a network (the service worker keeps it), then opened with none."""
    page.goto(CHECK_IN_PAGE)
    wait_for_service_worker_control(page)
    page.goto(CHECK_IN_PAGE)  # under the worker's control: the page and its scripts are kept
    expect(page.locator("[data-check-in][data-wired]")).to_have_count(1)
    go_offline(page.context)
    assert page.goto(CHECK_IN_PAGE).from_service_worker
    expect(page.get_by_test_id("offline-banner")).to_be_visible()
    expect(page.locator("[data-check-in][data-wired]")).to_have_count(1)


def test_a_check_in_scanned_offline_waits_on_the_phone_and_is_sent_once_online(phone, live_server, camera_clip):
    activity, session = run_async(member_at_an_activity())
    log_in(phone, live_server, session)
    write_camera_clip(camera_clip, check_ins.code_for(live_server.app.state.signer, activity, today()))
    page = phone.new_page()

    open_the_check_in_page_offline(page)
    page.get_by_test_id("scanner-start").click()

    result = page.get_by_test_id("check-in-result")
    expect(result).to_have_attribute("data-state", "waiting")
    item = page.get_by_test_id("check-in-item")
    expect(item).to_have_count(1)
    expect(item).to_have_attribute("data-state", "waiting")
    expect(item).to_contain_text(today().isoformat())
    assert run_async(CheckIn.count().run()) == 0

    go_online(phone)
    expect(item).to_have_attribute("data-state", "recorded")
    expect(item).to_contain_text("樽前山の登山道整備")
    expect(result).to_have_attribute("data-state", "recorded")
    rows = run_async(CheckIn.select(CheckIn.activity, CheckIn.day, CheckIn.method).run())
    assert rows == [{"activity": activity, "day": today(), "method": "code"}]

    page.reload()  # nothing waits any more: nothing is sent twice
    expect(page.get_by_test_id("check-in-item")).to_have_attribute("data-state", "recorded")
    page.goto("/account/activities")
    expect(page.get_by_test_id("progress-fiscal-year")).to_have_text("1 / 3")
    expect(page.get_by_test_id("activity-row")).to_have_count(1)
    expect(page.get_by_test_id("activity-how")).to_have_attribute("data-how", "code")
    assert run_async(CheckIn.count().run()) == 1


def test_yesterdays_code_is_refused_on_the_phone_with_no_network(phone, live_server, camera_clip):
    activity, session = run_async(member_at_an_activity())
    log_in(phone, live_server, session)
    yesterday = today() - timedelta(days=1)
    write_camera_clip(camera_clip, check_ins.code_for(live_server.app.state.signer, activity, yesterday))
    page = phone.new_page()

    open_the_check_in_page_offline(page)
    page.get_by_test_id("scanner-start").click()

    result = page.get_by_test_id("check-in-result")
    expect(result).to_have_attribute("data-state", "refused")
    expect(result).to_have_attribute("data-reason", "expired")
    expect(result).not_to_be_empty()
    expect(page.get_by_test_id("check-in-item")).to_have_count(0)

    # A code typed by hand is decided the same way: a forged one is refused, nothing is kept
    page.get_by_test_id("check-in-code").fill("AEAQ" + "A" * 110)
    page.get_by_test_id("check-in-submit").click()
    expect(result).to_have_attribute("data-reason", re.compile(r"^(forged|damaged)$"))
    go_online(phone)
    page.reload()
    expect(page.get_by_test_id("check-in-item")).to_have_count(0)
    assert run_async(CheckIn.count().run()) == 0
