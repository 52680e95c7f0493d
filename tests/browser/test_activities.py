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

from playwright.sync_api import Page, expect

from app.i18n import to_tokyo
from app.services.activities import check_ins
from app.services.membership import login_sessions
from db.tables import CheckIn
from tests import factories
from tests.browser.conftest import (
    go_offline,
    go_online,
    run_async,
    wait_for_service_worker_control,
)
from tests.browser.test_wallet import write_camera_clip

CHECK_IN_PAGE = "/activities/check-in"


def today():
    return to_tokyo(datetime.now(timezone.utc)).date()


async def member_at_an_activity() -> tuple[int, int, str]:
    """An activity open this week, and a member with a login session: (activity, member, session)."""
    area = await factories.area()
    activity = await factories.activity(area, starts_on=today() - timedelta(days=3), ends_on=today() + timedelta(days=3))
    registered = await factories.member("つなぐ花子")
    return activity, registered.member_id, await login_sessions.start(registered.account_id, "pytest member")


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


async def check_ins_at(activity: int) -> list[dict]:
    return await CheckIn.select(CheckIn.member, CheckIn.day, CheckIn.method).where(CheckIn.activity == activity).run()


def scan_offline_and_send_once_online(page: Page, activity: int, member: int) -> None:
    """With no network the phone reads the activity's QR (the camera plays it) and keeps the check-in, waiting;
    the network back, it is sent and recorded once."""
    open_the_check_in_page_offline(page)
    page.get_by_test_id("scanner-start").click()

    result = page.get_by_test_id("check-in-result")
    expect(result).to_have_attribute("data-state", "waiting")
    item = page.get_by_test_id("check-in-item")
    expect(item).to_have_count(1)
    expect(item).to_have_attribute("data-state", "waiting")
    expect(item).to_contain_text(today().isoformat())
    assert run_async(check_ins_at(activity)) == []

    go_online(page.context)
    expect(item).to_have_attribute("data-state", "recorded")
    expect(result).to_have_attribute("data-state", "recorded")
    assert run_async(check_ins_at(activity)) == [{"member": member, "day": today(), "method": "code"}]


def test_a_check_in_scanned_offline_waits_on_the_phone_and_is_sent_once_online(open_camera_phone, live_server, camera_clip):
    activity, member, session = run_async(member_at_an_activity())
    write_camera_clip(camera_clip, check_ins.code_for(live_server.app.state.signer, activity, today()))
    page = open_camera_phone(session)

    scan_offline_and_send_once_online(page, activity, member)
    expect(page.get_by_test_id("check-in-item")).to_contain_text("樽前山の登山道整備")
    assert run_async(CheckIn.count().run()) == 1

    page.reload()  # nothing waits any more: nothing is sent twice
    expect(page.get_by_test_id("check-in-item")).to_have_attribute("data-state", "recorded")
    page.goto("/account/activities")
    expect(page.get_by_test_id("progress-fiscal-year")).to_have_text("1 / 3")
    expect(page.get_by_test_id("activity-row")).to_have_count(1)
    expect(page.get_by_test_id("activity-how")).to_have_attribute("data-how", "code")
    assert run_async(CheckIn.count().run()) == 1


def test_yesterdays_code_is_refused_on_the_phone_with_no_network(open_camera_phone, live_server, camera_clip):
    activity, _member, session = run_async(member_at_an_activity())
    yesterday = today() - timedelta(days=1)
    write_camera_clip(camera_clip, check_ins.code_for(live_server.app.state.signer, activity, yesterday))
    page = open_camera_phone(session)

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
    go_online(page.context)
    page.reload()
    expect(page.get_by_test_id("check-in-item")).to_have_count(0)
    assert run_async(CheckIn.count().run()) == 0
