"""The audit log in a real browser on a desktop: staff open it from the secretariat's home on the demo
data, narrow it to one action (HTMX swaps the entries), and download the CSV; a member's page they open
shows up in it. TSUNAGU_SCREENSHOTS=<dir> writes a picture of the page there."""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import Browser, expect

from app.auth import AUTH_COOKIE
from app.demo import load_demo_data
from app.services.membership import login_sessions
from db.tables import Member
from tests import factories
from tests.browser.conftest import ACTION_TIMEOUT_MS, LiveServer, click_and_settle, run_async

DESKTOP = {"viewport": {"width": 1280, "height": 1000}, "locale": "ja-JP"}
SCREENSHOTS = os.environ.get("TSUNAGU_SCREENSHOTS", "")


async def demo_staff_and_a_member() -> tuple[str, int]:
    await load_demo_data()
    session = await login_sessions.start(await factories.staff_account("事務局 監査"), "pytest staff")
    member = await Member.select(Member.id).first()
    return session, member["id"]


def test_staff_narrow_the_audit_log_to_member_page_views_and_download_it(browser: Browser, live_server: LiveServer):
    session, member_id = run_async(demo_staff_and_a_member())
    context = browser.new_context(base_url=live_server.url, accept_downloads=True, **DESKTOP)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.add_cookies([{"name": AUTH_COOKIE, "value": session, "url": live_server.url}])
    page = context.new_page()
    try:
        page.goto(f"/staff/members/{member_id}")
        page.goto("/staff")
        click_and_settle(page, page.get_by_test_id("staff-audit-log"))
        expect(page.get_by_test_id("audit-row").first).to_be_visible()
        page.get_by_test_id("filter-action").select_option("member.view")
        expect(page.get_by_test_id("audit-row")).to_have_count(1)
        expect(page.get_by_test_id("audit-rows")).to_contain_text("事務局 監査")
        expect(page).to_have_url(re.compile(r"/staff/audit-log\?.*action=member\.view"))  # a link to this view
        if SCREENSHOTS:
            page.screenshot(path=str(Path(SCREENSHOTS) / "audit-log.png"), full_page=True)
        with page.expect_download() as download:
            page.get_by_test_id("export-audit-log").click()
        assert download.value.suggested_filename.startswith("audit-log-")
        assert Path(download.value.path()).read_bytes().startswith("\ufeff".encode())
        page.goto("/staff/retention")
        expect(page.get_by_test_id("retention-due")).to_be_visible()
        if SCREENSHOTS:
            page.screenshot(path=str(Path(SCREENSHOTS) / "retention.png"), full_page=True)
    finally:
        context.close()
