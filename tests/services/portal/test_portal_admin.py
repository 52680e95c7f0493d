"""The portal editor's rules: the hero (with its image), link cards (addresses, icons, order, hiding), the
consultation desk's contact details and the featured programs and articles — each change audited, and
what the public portal shows right after."""

import io

import pytest
from PIL import Image

from app.services.desk import contact
from app.services.portal import admin as portal_admin
from app.services.portal import featured_admin
from app.services.portal.admin import HeroValues, LinkValues, PortalInvalid, PortalRefused
from app.services.portal.portal import LinkCard, load_portal
from app.services.shared import uploads
from db.tables import Article, AuditLog, PortalBlock, Upload
from tests import factories

DEFAULT_LINKS = [LinkCard("ふるさと納税", "", "https://example.jp/furusato", "gift")]
LINK = {"title": "ワーケーション", "body": "海の見えるコワーキング", "url": "https://workation.example.jp/", "icon": "laptop"}


async def portal():
    return await load_portal("既定の見出し", "既定の本文", DEFAULT_LINKS)


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (2000, 1000), "seagreen").save(out, "JPEG")
    return out.getvalue()


async def audit_actions() -> list[str]:
    return [row["action"] for row in await AuditLog.select(AuditLog.action).order_by(AuditLog.id)]


def errors_of(parse, form: dict) -> dict:
    with pytest.raises(PortalInvalid) as caught:
        parse(form)
    return caught.value.errors


# The hero ---------------------------------------------------------------------------------------------


async def test_the_hero_editor_starts_from_the_defaults_and_saving_shows_it_on_the_portal():
    staff = await factories.staff_account()
    assert await portal_admin.hero_values("既定の見出し", "既定の本文") == HeroValues("既定の見出し", "既定の本文")
    values = await portal_admin.parse_hero({"title": " 海と森のまちへ ", "body": "一行目\r\n二行目"})
    await portal_admin.save_hero(values, None, None, staff)
    shown = await portal()
    assert (shown.hero_title, shown.hero_body, shown.hero_image) == ("海と森のまちへ", "一行目\n二行目", "")
    await portal_admin.save_hero(HeroValues("書き直した見出し"), None, None, staff)
    assert (await portal()).hero_title == "書き直した見出し"
    assert await PortalBlock.count().where(PortalBlock.kind == "hero") == 1
    assert await audit_actions() == ["portal.hero", "portal.hero"]
    row = await AuditLog.select().where(AuditLog.action == "portal.hero").order_by(AuditLog.id).first().output(
        load_json=True)
    assert (row["actor"], row["target_type"], row["detail"]["title"]) == (staff, "portal_block", "海と森のまちへ")


async def test_a_hero_needs_a_heading_of_reasonable_length():
    with pytest.raises(PortalInvalid) as caught:
        await portal_admin.parse_hero({"title": "", "body": "本" * 401, "image_alt": "説" * 201})
    assert set(caught.value.errors) == {"title", "body", "image_alt"}
    assert caught.value.errors["title"] == "見出しを入力してください。"


async def test_a_hero_image_is_stored_cleaned_and_shown_with_its_description(tmp_path):
    staff = await factories.staff_account()
    values = await portal_admin.parse_hero({"title": "見出し", "image_alt": "樽前山と海"})
    await portal_admin.save_hero(values, await uploads.prepare_image(photo()), tmp_path, staff)
    shown = await portal()
    assert uploads.name_of(shown.hero_image) and shown.hero_image_alt == "樽前山と海"
    stored = Image.open(uploads.directory(tmp_path) / uploads.name_of(shown.hero_image))
    assert stored.size == (1600, 800)
    # Saved again with the image as the form sends it back, it stays; "remove" takes it off the portal.
    again = await portal_admin.parse_hero({"title": "見出し", "image": shown.hero_image, "image_alt": "樽前山"})
    await portal_admin.save_hero(again, None, tmp_path, staff)
    assert ((await portal()).hero_image, (await portal()).hero_image_alt) == (shown.hero_image, "樽前山")
    removed = await portal_admin.parse_hero({"title": "見出し", "image": shown.hero_image, "remove_image": "1"})
    await portal_admin.save_hero(removed, None, tmp_path, staff)
    assert (await portal()).hero_image == ""


async def test_an_image_address_that_is_not_an_upload_is_refused():
    with pytest.raises(PortalInvalid) as caught:
        await portal_admin.parse_hero({"title": "見出し", "image": "https://evil.example/x.jpg"})
    assert "image_file" in caught.value.errors and caught.value.values.image == ""


async def test_a_hero_that_cannot_be_saved_leaves_no_image_behind(tmp_path, monkeypatch):
    staff = await factories.staff_account()

    async def broken_audit(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(portal_admin, "audit", broken_audit)
    with pytest.raises(RuntimeError):
        await portal_admin.save_hero(HeroValues("見出し"), await uploads.prepare_image(photo()), tmp_path, staff)
    assert await PortalBlock.count() == 0 and await Upload.count() == 0
    assert not any(uploads.directory(tmp_path).iterdir())


# Link cards -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "ftp://files.example.jp/", "https://",
    "//example.jp/", "www.example.jp", "https://exa mple.jp/", "https://example.jp/" + "a" * 500, "",
])
def test_a_link_card_opens_only_http_and_https_addresses(url):
    assert "url" in errors_of(portal_admin.parse_link, {**LINK, "url": url})


def test_a_link_card_takes_an_icon_from_the_fixed_set_and_short_texts():
    errors = errors_of(portal_admin.parse_link, {**LINK, "icon": "skull", "title": "", "body": "長" * 121})
    assert set(errors) == {"icon", "title", "body"}
    assert portal_admin.parse_link({**LINK, "url": "http://city.example.jp/iju"}).url == "http://city.example.jp/iju"


async def test_a_new_card_replaces_the_defaults_and_goes_to_the_end():
    staff = await factories.staff_account()
    assert (await portal()).links == DEFAULT_LINKS
    first = await portal_admin.create_link(portal_admin.parse_link(LINK), staff)
    second = await portal_admin.create_link(LinkValues("移住", "", "https://iju.example.jp/", "home"), staff)
    assert [link.title for link in (await portal()).links] == ["ワーケーション", "移住"]
    await portal_admin.update_link(first, LinkValues("ワーケーション2026", "", "https://w.example.jp/", "globe"), staff)
    assert (await portal()).links[0] == LinkCard("ワーケーション2026", "", "https://w.example.jp/", "globe")
    assert await audit_actions() == ["portal.link.create", "portal.link.create", "portal.link.update"]
    assert second != first


async def test_cards_move_one_step_at_a_time_and_not_past_the_ends():
    staff = await factories.staff_account()
    ids = [await portal_admin.create_link(LinkValues(title, "", f"https://{n}.example.jp/", "arrow"), staff)
           for n, title in enumerate(["一", "二", "三"])]
    await portal_admin.move_link(ids[2], "up", staff)
    assert [link.title for link in (await portal()).links] == ["一", "三", "二"]
    await portal_admin.move_link(ids[0], "up", staff)
    await portal_admin.move_link(ids[1], "down", staff)
    assert [link.title for link in (await portal()).links] == ["一", "三", "二"]
    await portal_admin.move_link(ids[0], "down", staff)
    assert [link.title for link in (await portal()).links] == ["三", "一", "二"]
    with pytest.raises(PortalRefused):
        await portal_admin.move_link(ids[0], "sideways", staff)
    with pytest.raises(PortalRefused):
        await portal_admin.move_link(999999, "up", staff)


async def test_hidden_cards_leave_the_portal_and_hiding_them_all_does_not_bring_back_the_defaults():
    staff = await factories.staff_account()
    card = await portal_admin.create_link(portal_admin.parse_link(LINK), staff)
    await portal_admin.set_link_shown(card, False, staff)
    assert (await portal()).links == []
    await portal_admin.set_link_shown(card, True, staff)
    assert [link.title for link in (await portal()).links] == ["ワーケーション"]
    assert await audit_actions() == ["portal.link.create", "portal.link.hide", "portal.link.show"]
    with pytest.raises(PortalRefused):
        await portal_admin.set_link_shown(999999, False, staff)


async def test_the_default_cards_become_editable_blocks_once():
    staff = await factories.staff_account()
    await portal_admin.copy_default_links(DEFAULT_LINKS, staff)
    assert [(b["title"], b["url"], b["icon"]) for b in await portal_admin.link_blocks()] == [
        ("ふるさと納税", "https://example.jp/furusato", "gift")
    ]
    with pytest.raises(PortalRefused) as caught:
        await portal_admin.copy_default_links(DEFAULT_LINKS, staff)
    assert caught.value.reason == "links_exist"


# The consultation desk --------------------------------------------------------------------------------


def test_the_desk_needs_a_name_and_a_way_to_reach_it():
    assert set(errors_of(portal_admin.parse_desk, {"name": "", "phone": "", "email": ""})) == {"name", "phone"}
    errors = errors_of(portal_admin.parse_desk, {"name": "窓口", "phone": "12", "email": "not-an-address"})
    assert set(errors) == {"phone", "email"}
    typed = portal_admin.parse_desk({"name": "ふるさと住民 相談窓口", "phone": "０１４４－３２－６１１１", "email": ""})
    assert typed.phone == "0144-32-6111"


async def test_the_desk_is_written_as_the_desk_block_the_inquiry_pages_read():
    staff = await factories.staff_account()
    assert (await portal()).desk is None
    values = contact.Desk("ふるさと住民 相談窓口", "0144-32-6111", "desk@city.example.jp", "平日 9:00〜17:00")
    await portal_admin.save_desk(values, staff)
    await PortalBlock.update({PortalBlock.body: "窓口の紹介文"}).where(PortalBlock.key == "desk")
    await portal_admin.save_desk(contact.Desk("移住相談窓口", "0144-32-6111", "", "平日"), staff)
    assert (await PortalBlock.select(PortalBlock.body).where(PortalBlock.key == "desk").first())["body"] == "窓口の紹介文"
    assert await PortalBlock.count().where(PortalBlock.kind == "desk") == 1
    assert await contact.load_desk("相談窓口") == contact.Desk("移住相談窓口", "0144-32-6111", "", "平日")
    assert (await portal()).desk == contact.Desk("移住相談窓口", "0144-32-6111", "", "平日")
    assert await portal_admin.desk_values("既定") == contact.Desk("移住相談窓口", "0144-32-6111", "", "平日")
    assert await audit_actions() == ["portal.desk", "portal.desk"]


# Featured programs and articles -----------------------------------------------------------------------


async def published_article(title: str, status: str = "published") -> int:
    row = Article(title=title, status=status)
    await row.save()
    return row.id


async def test_featured_items_are_shown_in_their_order_and_unpublished_ones_are_skipped():
    staff = await factories.staff_account()
    area = await factories.area()
    tour = await factories.program(area, title="湿原ツアー")
    fishing = await factories.program(area, title="ほっき漁体験")
    story = await published_article("移住者インタビュー")
    for program_id in (tour, fishing):
        await featured_admin.change_featured("add", "programs", program_id, staff)
    await featured_admin.change_featured("add", "articles", story, staff)
    await featured_admin.change_featured("down", "programs", tour, staff)
    shown = await portal()
    assert [p["title"] for p in shown.featured_programs] == ["ほっき漁体験", "湿原ツアー"]
    assert [a["title"] for a in shown.featured_articles] == ["移住者インタビュー"]
    await Article.update({Article.status: "rejected"}).where(Article.id == story)
    assert (await portal()).featured_articles == []
    overview = await featured_admin.featured_overview()
    assert [(i["title"], i["shown"]) for i in overview["articles"]] == [("移住者インタビュー", False)]
    await featured_admin.change_featured("remove", "programs", fishing, staff)
    assert [p["title"] for p in (await portal()).featured_programs] == ["湿原ツアー"]
    assert (await audit_actions()).count("portal.featured") == 5


async def test_only_published_items_can_be_featured_and_only_a_handful():
    staff = await factories.staff_account()
    area = await factories.area()
    draft = await factories.program(area, status="draft")
    with pytest.raises(PortalRefused) as caught:
        await featured_admin.change_featured("add", "programs", draft, staff)
    assert caught.value.reason == "not_public"
    with pytest.raises(PortalRefused):
        await featured_admin.change_featured("add", "articles", await published_article("下書き", "draft"), staff)
    for n in range(featured_admin.FEATURED_MAX):
        await featured_admin.change_featured("add", "articles", await published_article(f"記事{n}"), staff)
    with pytest.raises(PortalRefused) as caught:
        await featured_admin.change_featured("add", "articles", await published_article("七つ目"), staff)
    assert caught.value.reason == "full"
    for operation, kind in (("remove", "articles"), ("add", "shops"), ("explode", "articles")):
        with pytest.raises(PortalRefused):
            await featured_admin.change_featured(operation, kind, 999999, staff)
