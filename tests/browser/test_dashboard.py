"""The KPI dashboard in a real browser on a desktop: staff open it on the demo data, switch the fiscal year
(HTMX swaps the figures), download a CSV, and open the printable report. The page also reads on a phone.

The screenshot in the README (docs/screenshots/dashboard.png) comes from here: run this file with
TSUNAGU_SCREENSHOTS=docs/screenshots to write it again.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from app.auth import AUTH_COOKIE
from app.demo import load_demo_data
from app.services.dashboard import filters
from app.services.membership import login_sessions
from tests import factories
from tests.browser.conftest import ACTION_TIMEOUT_MS, PHONE, LiveServer, run_async

DESKTOP = {"viewport": {"width": 1280, "height": 1000}, "locale": "ja-JP"}
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"
SCREENSHOTS = os.environ.get("TSUNAGU_SCREENSHOTS", "")


async def demo_and_staff() -> str:
    await load_demo_data()
    return await login_sessions.start(await factories.staff_account(), "pytest staff")


@pytest.fixture
def staff_browser(browser: Browser, live_server: LiveServer):
    """Opens a logged-in staff profile on a device; closes them all."""
    session = run_async(demo_and_staff())
    contexts: list[BrowserContext] = []

    def open_as(device: dict) -> Page:
        context = browser.new_context(base_url=live_server.url, accept_downloads=True, **device)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.add_cookies([{"name": AUTH_COOKIE, "value": session, "url": live_server.url}])
        contexts.append(context)
        return context.new_page()

    yield open_as
    for context in contexts:
        context.close()


def test_staff_read_the_dashboard_switch_years_download_a_csv_and_open_the_report(staff_browser, tmp_path):
    page = staff_browser(DESKTOP)
    page.goto("/staff")
    page.get_by_test_id("staff-dashboard").click()
    this_year = filters.current_fiscal_year()
    scope = page.get_by_test_id("dashboard-scope")
    expect(scope).to_contain_text(f"{this_year}年度")
    expect(page.get_by_test_id("actual-registrations")).not_to_have_text("0")
    expect(page.get_by_test_id("metric-registrations")).to_contain_text("目標100")
    for key in ("trend-registrations", "weekday-hour", "funnel"):
        expect(page.get_by_test_id(f"chart-{key}")).to_be_visible()
    expect(page.get_by_test_id("intent-definition")).to_contain_text("intent_to_move")
    shot = Path(SCREENSHOTS or tmp_path) / "dashboard.png"
    page.set_viewport_size({"width": 1280, "height": 1640})  # tall enough for the figures and the first trend lines
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shot))
    page.set_viewport_size(DESKTOP["viewport"])
    assert shot.stat().st_size > 20_000

    # Last year: HTMX swaps the figures in place, and the address follows.
    page.get_by_test_id("filter-year").select_option(str(this_year - 1))
    expect(scope).to_contain_text(f"{this_year - 1}年度")
    assert f"year={this_year - 1}" in page.url
    expect(page.get_by_test_id("metric-registrations")).to_contain_text("目標は未設定")

    # An area: the participants narrow to it.
    page.get_by_test_id("filter-year").select_option(str(this_year))
    expect(scope).to_contain_text(f"{this_year}年度")
    page.get_by_test_id("filter-area").select_option(label="勇払")
    expect(scope).to_contain_text("勇払")
    expect(page.get_by_test_id("metric-participants")).to_contain_text("目標10")

    # A table as CSV for Excel.
    with page.expect_download() as download:
        page.get_by_test_id("csv-participants_by_area").click()
    path = download.value.path()
    assert download.value.suggested_filename.endswith("-participants-by-area.csv")
    text = Path(path).read_bytes()
    assert text.startswith(b"\xef\xbb\xbf") and "勇払".encode() in text

    # The printable report, from the dashboard's link.
    page.get_by_test_id("report-link").click()
    expect(page.get_by_test_id("section-effects")).not_to_be_empty()
    page.get_by_test_id("report-print").click()
    expect(page.get_by_test_id("report-cover")).to_contain_text("成果報告書")
    expect(page.get_by_test_id("report-text-effects")).to_contain_text("ふるさと住民")
    expect(page.get_by_test_id("chart-funnel")).to_be_visible()


def test_the_dashboard_reads_on_a_phone_without_sideways_scrolling(staff_browser):
    page = staff_browser(PHONE)
    page.goto("/staff/dashboard")
    expect(page.get_by_test_id("chart-trend-registrations")).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
