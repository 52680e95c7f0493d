"""The portal outside the app in a real browser: the secretariat builds the portal as HTML files and downloads the
ZIP; unpacked into a folder and opened from the disk with the network cut, the portal shows with its stylesheet
and images, and its links lead to a program's page and an article's, each with its picture."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, expect

from app.services.articles import articles
from app.services.membership import login_sessions
from app.services.portal import admin as portal_admin
from app.services.portal.admin import HeroValues
from app.services.shared import uploads
from app.services.shared.actor import Actor
from tests import factories
from tests.browser.conftest import DESKTOP, PHONE, run_async

PROGRAM = "ほっき貝の浜で漁業体験"
ARTICLE = "漁港で働く人たち"


def picture(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 400), colour).save(out, "JPEG")
    return out.getvalue()


async def portal_with_pictures(var_dir: Path) -> str:
    """A hero photo, a program with a photo and an article with a cover; the staff session that builds them."""
    area = await factories.area()
    staff = await factories.staff_account()
    editor = Actor(await factories.staff_account("編集 鈴木", role="editor", area=area), "editor", area)
    await portal_admin.save_hero(HeroValues("海と森のまち", "ようこそ", "", "樽前山"),
                                 await uploads.prepare_image(picture("steelblue")), var_dir, staff)
    await factories.program(area, title=PROGRAM, image_url=await uploads.save_image(picture("orange"), var_dir, staff))
    values = await articles.validate_article({"kind": "interview", "title": ARTICLE, "lead": "朝四時の港から。",
                                              "body": "ほっき漁の一日を追いました。"}, editor)
    article = await articles.create_article(editor, values, await uploads.prepare_image(picture("tomato")), var_dir)
    await articles.transition(article, editor, "submitted")
    await articles.transition(article, Actor(staff, "staff"), "published")
    return await login_sessions.start(staff, "pytest staff")


def pictures_shown(page: Page) -> list[int]:
    """The natural width of every image on the page, once each has finished loading (or failed to)."""
    page.wait_for_function("() => [...document.images].every(image => image.complete)")
    return page.evaluate("() => [...document.images].map(image => image.naturalWidth)")


def test_the_portal_as_html_files_opens_from_the_disk_with_no_network(browser, open_browser, live_server, tmp_path):
    staff = open_browser(run_async(portal_with_pictures(live_server.settings.var_dir)), device=DESKTOP)
    staff.goto("/staff")
    staff.get_by_test_id("staff-static-export").click()
    staff.get_by_test_id("static-export-build-button").click()
    expect(staff.get_by_test_id("static-export-pages")).to_have_text(re.compile(r"^\d+$"))
    with staff.expect_download() as download:
        staff.get_by_test_id("static-export-download").click()
    archive = tmp_path / "portal.zip"
    download.value.save_as(archive)
    site = tmp_path / "site"
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(site)

    offline = browser.new_context(**PHONE)
    asked: list[str] = []
    offline.route(re.compile(r"^https?://"), lambda route: (asked.append(route.request.url), route.abort()))
    try:
        page = offline.new_page()
        page.goto((site / "index.html").as_uri())
        expect(page.get_by_test_id("hero")).to_contain_text("海と森のまち")
        topbar = page.evaluate("() => getComputedStyle(document.querySelector('.topbar')).backgroundColor")
        assert topbar not in ("", "rgba(0, 0, 0, 0)")  # the stylesheets came from the folder
        assert all(width > 0 for width in pictures_shown(page))  # the logo and the hero photo

        page.get_by_test_id("portal-program").get_by_role("link", name=PROGRAM).click()
        expect(page.get_by_test_id("program-detail")).to_contain_text(PROGRAM)
        assert page.url.startswith("file://") and page.get_by_test_id("program-image").count() == 1
        assert all(width > 0 for width in pictures_shown(page))
        apply = page.get_by_test_id("register-to-apply").get_attribute("href")
        assert apply == f"{live_server.url}/register"  # applying needs the app

        page.go_back()
        page.get_by_test_id("portal-article").get_by_role("link", name=ARTICLE).click()
        expect(page.get_by_test_id("article-title")).to_have_text(ARTICLE)
        assert page.get_by_test_id("article-cover").count() == 1
        assert all(width > 0 for width in pictures_shown(page))
        page.get_by_test_id("lang-en").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        assert re.search(r"/site/en/articles/\d+\.html$", page.url)  # the same article, in the English folder
        assert asked == []  # nothing was needed from the network
    finally:
        offline.close()
