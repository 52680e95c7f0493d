"""The portal editor in real browsers: the secretariat changes the hero (with a photo) and a link card, and a
visitor's portal shows both on the very next load; a hidden card disappears from it just as fast."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from playwright.sync_api import expect

from app.services.membership import login_sessions
from tests import factories
from tests.browser.conftest import DESKTOP, run_async

HERO_TITLE = "港と森のまちで、週末だけの暮らしを。"
HERO_BODY = "新千歳空港から車で20分。ふるさと住民になって、まちを体験してみませんか。"
CARD_TITLE = "二地域居住の相談会"
CARD_URL = "https://iju.example.jp/soudan"



async def staff_session() -> str:
    return await login_sessions.start(await factories.staff_account(), "pytest staff")


def harbour_photo(directory: Path) -> Path:
    path = directory / "harbour.jpg"
    out = io.BytesIO()
    Image.new("RGB", (1800, 900), "steelblue").save(out, "JPEG")
    path.write_bytes(out.getvalue())
    return path


def test_staff_edit_the_hero_and_a_link_card_and_the_portal_shows_them_at_once(open_browser, tmp_path):
    visitor = open_browser()
    visitor.goto("/")
    expect(visitor.get_by_test_id("hero")).to_contain_text("とまこまい つながる")  # the defaults, now cached
    expect(visitor.get_by_test_id("hero-image")).to_have_count(0)

    staff = open_browser(run_async(staff_session()), device=DESKTOP)
    staff.goto("/staff")
    staff.get_by_test_id("staff-portal").click()
    form = staff.get_by_test_id("hero-form")
    form.get_by_test_id("hero-title").fill(HERO_TITLE)
    form.get_by_test_id("field-body").fill(HERO_BODY)
    form.get_by_test_id("field-image_file").set_input_files(harbour_photo(tmp_path))
    form.get_by_test_id("field-image_alt").fill("苫小牧港の夕暮れ")
    form.get_by_test_id("hero-save").click()
    expect(staff.get_by_test_id("flash")).to_have_text("メインビジュアルを保存しました。ポータルにすぐ反映されています。")
    expect(staff.get_by_test_id("current-hero-image")).to_be_visible()

    # The default cards become editable blocks; the first one is rewritten.
    staff.get_by_test_id("copy-default-links").click()
    expect(staff.get_by_test_id("link-row")).to_have_count(3)
    staff.get_by_test_id("link-row").first.get_by_test_id("edit-link").click()
    link_form = staff.get_by_test_id("link-form")
    link_form.get_by_test_id("field-title").fill(CARD_TITLE)
    link_form.get_by_test_id("field-url").fill("javascript:alert(1)")
    link_form.get_by_test_id("link-save").click()
    expect(staff.get_by_test_id("error-url")).to_be_visible()
    staff.get_by_test_id("field-url").fill(CARD_URL)
    staff.get_by_test_id("field-icon").select_option("chat")
    staff.get_by_test_id("link-save").click()
    expect(staff.get_by_test_id("flash")).to_have_text("リンクカードを保存しました。ポータルにすぐ反映されています。")

    # The visitor's next load shows both, with the photo really loaded.
    visitor.reload()
    expect(visitor.get_by_role("heading", level=1)).to_have_text(HERO_TITLE)
    expect(visitor.get_by_test_id("hero")).to_contain_text(HERO_BODY)
    image = visitor.get_by_test_id("hero-image")
    expect(image).to_have_attribute("alt", "苫小牧港の夕暮れ")
    visitor.wait_for_function("() => document.querySelector('[data-testid=hero-image]').naturalWidth === 1600")
    card = visitor.get_by_test_id("link-cards").get_by_role("link").first
    expect(card).to_contain_text(CARD_TITLE)
    expect(card).to_have_attribute("href", CARD_URL)

    # Hidden on the editor, gone from the portal.
    staff.get_by_test_id("link-row").first.get_by_test_id("link-hide").click()
    expect(staff.get_by_test_id("link-hidden")).to_have_count(1)
    visitor.reload()
    expect(visitor.get_by_test_id("link-cards")).not_to_contain_text(CARD_TITLE)
    expect(visitor.get_by_test_id("link-cards").get_by_role("link")).to_have_count(2)
