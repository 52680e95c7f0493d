"""The portal editor's pages: staff change the hero, link cards, desk and featured items, and the public
portal shows each change on the very next visit (the cache of this process is cleared on save)."""

import io
import re

from PIL import Image

from app.services.shared import uploads
from db.tables import AuditLog, PortalBlock, Upload
from tests import factories
from tests.conftest import log_in

LINK = {"title": "ワーケーション", "body": "海の見えるコワーキング", "url": "https://workation.example.jp/", "icon": "laptop"}


def photo(size=(2400, 1200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "seagreen").save(out, "JPEG")
    return out.getvalue()


async def post_multipart(client, url: str, data: dict, files: dict, **kwargs):
    token = await client.ensure_csrf()
    return await client.post(url, data={**data, "_csrf_token": token}, files=files, **kwargs)


def no_file() -> dict:
    return {"image_file": ("", b"", "application/octet-stream")}


async def staff_client(client) -> int:
    staff = await factories.staff_account()
    await log_in(client, staff)
    return staff


async def test_the_editor_page_shows_every_block_with_the_defaults_filled_in(client):
    await staff_client(client)
    response = await client.get("/staff/portal")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    for testid in ("hero-form", "desk-form", "featured-programs", "featured-articles", "copy-default-links"):
        assert f'data-testid="{testid}"' in response.text
    assert "とまこまい つながる" in response.text  # the default heading stands in the hero form
    assert "ふるさと納税" in response.text  # the default link cards are listed


async def test_a_new_hero_shows_on_the_portal_at_once(client):
    await staff_client(client)
    assert "とまこまい つながる" in (await client.get("/")).text  # the portal is now cached
    response = await post_multipart(client, "/staff/portal/hero", {"title": "海と森のまちへ", "body": "ようこそ",
                                    "image_alt": "樽前山"}, {"image_file": ("山.jpg", photo(), "image/jpeg")},
                                    follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/staff/portal#hero"
    assert "メインビジュアルを保存しました" in (await client.get("/staff/portal")).text
    home = (await client.get("/")).text
    assert "海と森のまちへ" in home and "ようこそ" in home
    image = re.search(r'<img class="hero-image" src="(/uploads/[0-9a-f]{32}\.jpg)" alt="樽前山"', home)
    assert image
    assert (await client.get(image.group(1))).status_code == 200


async def test_a_hero_without_a_heading_or_with_a_bad_image_is_refused_and_nothing_is_kept(client, settings):
    await staff_client(client)
    response = await post_multipart(client, "/staff/portal/hero", {"title": "", "body": "書いた本文"},
                                    {"image_file": ("ok.jpg", photo(), "image/jpeg")})
    assert response.status_code == 422
    assert 'data-testid="error-title"' in response.text and 'data-testid="error-image_file"' in response.text
    assert "書いた本文" in response.text
    response = await post_multipart(client, "/staff/portal/hero", {"title": "見出し"},
                                    {"image_file": ("shell.jpg", b"<?php echo 1; ?>", "image/jpeg")})
    assert response.status_code == 422 and 'aria-describedby="image_file-error"' in response.text
    assert await PortalBlock.count() == 0 and await Upload.count() == 0
    assert not uploads.directory(settings.var_dir).exists() or not any(uploads.directory(settings.var_dir).iterdir())


async def test_link_cards_are_added_edited_moved_and_hidden_and_the_portal_follows(client):
    await staff_client(client)
    await client.get("/")
    response = await client.submit("/staff/portal/links", LINK, follow_redirects=False)
    assert response.status_code == 303
    await client.submit("/staff/portal/links", {**LINK, "title": "移住相談", "url": "https://iju.example.jp/"})
    home = (await client.get("/")).text
    assert home.index("ワーケーション") < home.index("移住相談") and "ふるさと納税" not in home
    blocks = await PortalBlock.select().where(PortalBlock.kind == "link").order_by(PortalBlock.position)
    first, second = blocks[0]["id"], blocks[1]["id"]
    assert (await client.get(f"/staff/portal/links/{first}")).status_code == 200
    await client.submit(f"/staff/portal/links/{second}/move", {"direction": "up"})
    home = (await client.get("/")).text
    assert home.index("移住相談") < home.index("ワーケーション")
    await client.submit(f"/staff/portal/links/{first}", {**LINK, "title": "ワーケーション2026"})
    await client.submit(f"/staff/portal/links/{second}/visibility", {"shown": "0"})
    home = (await client.get("/")).text
    assert "ワーケーション2026" in home and "移住相談" not in home
    editor = (await client.get("/staff/portal")).text
    assert 'data-testid="link-hidden"' in editor and 'data-testid="link-show"' in editor
    actions = [r["action"] for r in await AuditLog.select(AuditLog.action).order_by(AuditLog.id)]
    assert actions == ["portal.link.create", "portal.link.create", "portal.link.move", "portal.link.update",
                       "portal.link.hide"]


async def test_a_link_card_with_a_script_address_is_refused_next_to_the_field(client):
    await staff_client(client)
    response = await client.submit("/staff/portal/links", {**LINK, "url": "javascript:alert(1)"})
    assert response.status_code == 422
    assert 'data-testid="error-url"' in response.text and "https://" in response.text
    assert LINK["title"] in response.text
    assert await PortalBlock.count() == 0


async def test_unknown_cards_are_not_found(client):
    await staff_client(client)
    assert (await client.get("/staff/portal/links/999999")).status_code == 404
    assert (await client.submit("/staff/portal/links/999999", LINK)).status_code == 404
    response = await client.submit("/staff/portal/links/999999/move", {"direction": "up"})
    assert "もう存在しません" in response.text


async def test_the_default_cards_can_be_taken_over_for_editing(client):
    await staff_client(client)
    await client.submit("/staff/portal/links/defaults")
    titles = [b["title"] for b in await PortalBlock.select(PortalBlock.title).where(PortalBlock.kind == "link")]
    assert titles == ["ふるさと納税", "移住・定住", "ワーケーション"]
    response = await client.submit("/staff/portal/links/defaults")
    assert "リンクカードはすでにあります" in response.text
    assert await PortalBlock.count() == 3


async def test_the_desk_contact_details_show_on_the_portal(client):
    await staff_client(client)
    await client.get("/")
    response = await client.submit("/staff/portal/desk", {"name": "ふるさと住民 相談窓口", "phone": "0144-32-6111",
                                                          "email": "desk@city.example.jp", "hours": "平日 9:00〜17:00"},
                                   follow_redirects=False)
    assert response.status_code == 303
    home = (await client.get("/")).text
    assert 'data-testid="desk-section"' in home and 'href="tel:0144326111"' in home
    assert "mailto:desk@city.example.jp" in home and "平日 9:00〜17:00" in home
    response = await client.submit("/staff/portal/desk", {"name": "窓口", "phone": "", "email": "no-at-sign"})
    assert response.status_code == 422 and 'data-testid="error-email"' in response.text


async def test_a_desk_notice_shows_above_its_details_until_it_is_emptied(client):
    await staff_client(client)
    desk = {"name": "ふるさと住民 相談窓口", "phone": "0144-32-6111", "email": "", "hours": "平日 9:00〜17:00",
            "notice": "年末年始（12月29日〜1月3日）はお休みします。"}
    await client.submit("/staff/portal/desk", desk)
    contact = (await client.get("/contact")).text
    assert 'data-testid="desk-notice">年末年始（12月29日〜1月3日）はお休みします。<' in contact
    await client.submit("/staff/portal/desk", {**desk, "notice": ""})
    assert 'data-testid="desk-notice"' not in (await client.get("/contact")).text
    too_long = await client.submit("/staff/portal/desk", {**desk, "notice": "休" * 201})
    assert too_long.status_code == 422 and 'data-testid="error-notice"' in too_long.text


async def test_featured_items_are_chosen_from_published_ones(client):
    await staff_client(client)
    area = await factories.area()
    program = await factories.program(area, title="湿原ツアー", summary="木道を歩きます")
    draft = await factories.program(area, title="準備中の企画", status="draft")
    editor = (await client.get("/staff/portal")).text
    assert "湿原ツアー" in editor and "準備中の企画" not in editor  # only public programs are offered
    await client.get("/")
    await client.submit("/staff/portal/featured", {"operation": "add", "kind": "programs", "item": str(program)})
    home = (await client.get("/")).text
    assert 'data-testid="featured-program"' in home and "木道を歩きます" in home
    response = await client.submit("/staff/portal/featured", {"operation": "add", "kind": "programs", "item": str(draft)})
    assert "公開中のプログラムと記事だけ" in response.text
    response = await client.submit("/staff/portal/featured", {"operation": "add", "kind": "programs", "item": "１"})
    assert "一覧からプログラムまたは記事を選んでください" in response.text
    await client.submit("/staff/portal/featured", {"operation": "remove", "kind": "programs", "item": str(program)})
    assert 'data-testid="featured-section"' not in (await client.get("/")).text


async def test_the_secretariat_menu_links_the_portal_editor_and_the_handover(client):
    await staff_client(client)
    menu = (await client.get("/staff")).text
    assert 'href="/staff/portal"' in menu and 'href="/staff/handover"' in menu
