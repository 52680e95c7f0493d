"""Accessibility: axe-core (Deque's engine, as browsers' own audits use it) on the main pages of every role, on the
demo data, on a phone and, for staff, on a desktop. Any serious or critical violation fails, so what a manual pass
fixed stays fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser

from app.auth import AUTH_COOKIE
from app.demo import load_demo_data
from app.services.membership import login_sessions
from db.tables import Account, Article, Program, Shop, WalletPass
from tests import factories
from tests.browser.conftest import ACTION_TIMEOUT_MS, DESKTOP, PHONE, LiveServer, run_async

SERIOUS = ("serious", "critical")

VISITOR_PAGES = ["/", "/programs", "/programs?view=calendar", "/programs/{program}", "/articles", "/articles/{article}",
                 "/passes", "/shops", "/login", "/register", "/contact", "/privacy",
                 "/terms", "/accessibility", "/account/deleted"]
MEMBER_PAGES = ["/card", "/wallet", "/account", "/programs/mine", "/inbox", "/surveys", "/account/premium",
                "/account/notifications"]
SHOP_PAGES = ["/shop", "/shop/scan"]
EDITOR_PAGES = ["/editor/programs", "/editor/articles", "/editor/activities"]
STAFF_PAGES = ["/staff", "/staff/moderation", "/staff/members", "/staff/inquiries", "/staff/dashboard", "/staff/push/new",
               "/staff/surveys", "/staff/shops", "/staff/wallet/analysis", "/staff/report", "/staff/journeys",
               "/staff/portal/static"]


@dataclass
class Demo:
    program: int
    article: int
    sessions: dict[str, str]


async def demo() -> Demo:
    await load_demo_data()
    program = await Program.select(Program.id).where(Program.status == "published").first()
    article = await Article.select(Article.id).where(Article.status == "published").first()
    member = await WalletPass.select(WalletPass.member.account.as_alias("account")).where(
        WalletPass.activated_at.is_not_null()).first()
    shop = await Shop.select(Shop.id).first()
    area = await Program.select(Program.area).where(Program.id == program["id"]).first()
    accounts = {
        "member": member["account"],
        "shop": await factories.staff_account("店員 田中", role="shop", shop=shop["id"]),
        "editor": await factories.staff_account("勇払 編集 鈴木", role="editor", area=area["area"]),
        "staff": await factories.staff_account("事務局 佐藤"),
    }
    assert await Account.exists().where(Account.id == member["account"])
    sessions = {role: await login_sessions.start(account, f"pytest {role}") for role, account in accounts.items()}
    return Demo(program["id"], article["id"], sessions)


def violations(browser: Browser, live_server: LiveServer, session: str | None, device: dict, paths: list[str]) -> list[str]:
    context = browser.new_context(base_url=live_server.url, **device)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    if session:
        context.add_cookies([{"name": AUTH_COOKIE, "value": session, "url": live_server.url}])
    page = context.new_page()
    axe = Axe()
    found = []
    try:
        for path in paths:
            response = page.goto(path)
            assert response is not None and response.status == 200, (path, response and response.status)
            page.wait_for_load_state("load")
            results = axe.run(page).response
            for violation in results["violations"]:
                if violation["impact"] in SERIOUS:
                    targets = [" ".join(node["target"]) for node in violation["nodes"]][:3]
                    found.append(f"{path}: {violation['id']} ({violation['impact']}) {violation['help']} — {targets}")
    finally:
        context.close()
    return found


@pytest.fixture
def demo_data() -> Demo:
    return run_async(demo())


def test_the_main_pages_of_every_role_have_no_serious_accessibility_violation(browser, live_server, demo_data):
    def fill(paths: list[str]) -> list[str]:
        return [path.format(program=demo_data.program, article=demo_data.article) for path in paths]

    checked = [
        (None, PHONE, fill(VISITOR_PAGES)),
        (demo_data.sessions["member"], PHONE, MEMBER_PAGES),
        (demo_data.sessions["shop"], PHONE, SHOP_PAGES),
        (demo_data.sessions["editor"], PHONE, EDITOR_PAGES),
        (demo_data.sessions["staff"], DESKTOP, STAFF_PAGES),
    ]
    assert sum(len(paths) for _session, _device, paths in checked) >= 20
    found = [line for session, device, paths in checked for line in violations(browser, live_server, session, device, paths)]
    assert not found, "\n".join(found)
