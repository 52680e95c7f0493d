"""The staff console in a real browser: on a desktop the navigation by domain stands at the side with what waits,
the search finds a member; on a phone the same pages keep the bottom bar."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from app.services.membership import login_sessions
from tests import factories
from tests.browser.conftest import NO_SIDEWAYS_SCROLL, PHONE, run_async

LAPTOP = {"viewport": {"width": 1366, "height": 768}, "locale": "ja-JP"}


async def staff_with_a_new_inquiry() -> str:
    await factories.member("苫小牧 はるか")
    await factories.inquiry(name="苫小牧 はるか")
    return await login_sessions.start(await factories.staff_account(), "pytest staff")


def test_on_a_desktop_the_console_stands_at_the_side_and_finds_a_member(open_browser):
    session = run_async(staff_with_a_new_inquiry())
    page = open_browser(session, device=LAPTOP)
    page.goto("/staff")
    nav = page.get_by_test_id("console-nav")
    expect(nav).to_be_visible()
    expect(page.get_by_test_id("bottom-nav")).to_be_hidden()
    expect(nav.get_by_test_id("console-nav-staff-inquiries-count")).to_have_text("1")
    box = nav.bounding_box()
    main = page.locator("#main").bounding_box()
    assert box and main and box["x"] + box["width"] <= main["x"] + 1 and main["width"] > 900  # side by side, wide
    nav.get_by_test_id("console-nav-staff-shops").click()
    expect(nav.get_by_test_id("console-nav-staff-shops")).to_have_attribute("aria-current", "page")
    nav.get_by_test_id("console-search-nav").fill("はるか")
    nav.get_by_test_id("console-search-nav").press("Enter")
    expect(page.get_by_test_id("search-member")).to_have_count(1)
    expect(page.get_by_test_id("search-inquiry")).to_have_count(1)
    page.get_by_test_id("search-member").get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("苫小牧 はるか")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)


async def staff_with_a_premium_application() -> str:
    await factories.premium_application((await factories.member("申請 花子")).member_id)
    return await login_sessions.start(await factories.staff_account(), "pytest staff")


def test_premium_applications_have_their_own_count_and_lead_to_their_queue(open_browser):
    page = open_browser(run_async(staff_with_a_premium_application()), device=LAPTOP)
    page.goto("/staff/shops")
    nav = page.get_by_test_id("console-nav")
    expect(nav.get_by_test_id("console-nav-staff-premium-count")).to_have_text("1")
    expect(nav.get_by_test_id("console-nav-staff-moderation-count")).to_have_count(0)
    nav.get_by_test_id("console-nav-staff-premium").click()
    expect(page).to_have_url(re.compile(r"/staff/moderation\?kind=premium$"))
    expect(nav.get_by_test_id("console-nav-staff-premium")).to_have_attribute("aria-current", "page")
    expect(nav.get_by_test_id("console-nav-staff-moderation")).not_to_have_attribute("aria-current", "page")
    expect(page.locator("#main")).to_contain_text("申請 花子")


def test_on_a_phone_the_staff_pages_keep_the_bottom_bar(open_browser):
    session = run_async(staff_with_a_new_inquiry())
    page = open_browser(session, device=PHONE)
    page.goto("/staff")
    expect(page.get_by_test_id("console-nav")).to_be_hidden()
    expect(page.get_by_test_id("bottom-nav")).to_be_visible()
    expect(page.get_by_test_id("attention-inquiries")).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)


SMALLEST_PHONE = {**PHONE, "viewport": {"width": 320, "height": 640}}


async def results_and_a_long_address() -> tuple[str, int, int]:
    from app.demo import load_demo_data
    from db.tables import Survey

    await load_demo_data()
    survey = await Survey.select(Survey.id).where(Survey.status.is_in(["published", "closed"])).first()
    inquiry = await factories.inquiry(name="長い 住所", email="a.very.long.mailbox.name.for.testing@subdomain.example-municipality.lg.jp")
    return await login_sessions.start(await factories.staff_account(), "pytest staff"), survey["id"], inquiry["id"]


def test_staff_pages_with_charts_and_long_addresses_fit_the_smallest_phone(open_browser):
    session, survey_id, inquiry_id = run_async(results_and_a_long_address())
    page = open_browser(session, device=SMALLEST_PHONE)
    for path in (f"/staff/surveys/{survey_id}/results", f"/staff/inquiries/{inquiry_id}", "/staff/members", "/staff/dashboard",
                 "/staff/wallet/redemptions"):
        page.goto(path)
        assert page.evaluate(NO_SIDEWAYS_SCROLL), path
