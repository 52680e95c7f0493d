"""The portal outside the app: the static export holds the public portal, programs and articles as plain HTML whose
every link either resolves inside the ZIP or leads back to the app, with every image it shows, no script and no
form; nothing unpublished goes in; each build replaces the last and is audited."""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from PIL import Image

from app.services.articles import articles
from app.services.portal import admin as portal_admin
from app.services.portal import static_export
from app.services.portal.admin import HeroValues
from app.services.portal.static_html import rewrite
from app.services.shared import clock, uploads
from app.static_pages import page_fetcher
from db.tables import AuditLog
from tests import factories
from tests.conftest import BASE_URL

ARTICLE = {"kind": "report", "title": "田植え体験の報告", "lead": "都市から12人が参加しました。", "body": "晴れでした。"}


def picture(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 320), colour).save(out, "JPEG")
    return out.getvalue()


class Links(HTMLParser):
    """Every (tag, attribute, address) of a page, and its script and form tags."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str]] = []
        self.forbidden: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "form"):
            self.forbidden.append(tag)
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.found.append((tag, name, value))
            if name.startswith(("hx-", "on")):
                self.forbidden.append(name)


def links_of(html: str) -> Links:
    parser = Links()
    parser.feed(html)
    return parser


async def publish(scene, var_dir, cover: bytes | None = None, **changes) -> int:
    values = await articles.validate_article({**ARTICLE, **changes}, scene.editor)
    prepared = await uploads.prepare_image(cover) if cover else None
    article_id = await articles.create_article(scene.editor, values, prepared, var_dir)
    await articles.transition(article_id, scene.editor, "submitted")
    await articles.transition(article_id, scene.staff, "published")
    return article_id


@pytest.fixture
async def site(scene, settings):
    """A portal with a hero photo, a program to come (with a photo) and one ended, two published articles (one
    with a cover and a Markdown link to the other and an image in its body) and a draft."""
    var_dir = settings.var_dir
    hero = await uploads.prepare_image(picture("steelblue"))
    await portal_admin.save_hero(HeroValues("海と森のまち", "ようこそ", "", "樽前山"), hero, var_dir, scene.staff.account_id)
    photo = await uploads.save_image(picture("orange"), var_dir, scene.staff.account_id)
    upcoming = await factories.program(scene.area, title="ほっき貝の浜で漁業体験", image_url=photo)
    now = clock.now()
    ended = await factories.program(scene.other_area, title="樽前山の登山道整備", starts_at=now - timedelta(days=9),
                                    ends_at=now - timedelta(days=8))
    inline = await uploads.save_image(picture("seagreen"), var_dir, scene.staff.account_id)
    first = await publish(scene, var_dir, title="漁港で働く人たち", kind="interview")
    second = await publish(scene, var_dir, cover=picture("tomato"),
                           body=f"前回の[インタビュー](/articles/{first})も。\n\n![田んぼ]({inline})\n\n[申し込み](/programs/{upcoming}#application)")
    draft_values = await articles.validate_article({**ARTICLE, "title": "まだ下書きの記事"}, scene.editor)
    await articles.create_article(scene.editor, draft_values)
    return {"upcoming": upcoming, "ended": ended, "first": first, "second": second}


async def build(app, settings, actor_id=None) -> static_export.Build:
    return await static_export.build(page_fetcher(app), app.route_reverse, settings.base_url, settings.default_locale,
                                     settings.var_dir, actor_id)


def read_zip(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


async def test_every_link_resolves_inside_the_zip_or_leads_to_the_app_and_every_image_is_there(app, settings, site):
    files = read_zip((await build(app, settings)).path)
    pages = {name: data.decode("utf-8") for name, data in files.items() if name.endswith(".html")}
    for name in ("index.html", "programs/index.html", "programs/ended.html", "articles/index.html",
                 f"programs/{site['upcoming']}.html", f"programs/{site['ended']}.html",
                 f"articles/{site['first']}.html", f"articles/{site['second']}.html", "articles/interview.html",
                 "en/index.html", f"en/articles/{site['second']}.html"):
        assert name in pages, name
    assert "static/css/app.css" in files and "theme.css" in files and "icons/icon.svg" in files
    images = 0
    for name, html in pages.items():
        found = links_of(html)
        assert found.forbidden == [], (name, found.forbidden)
        assert "csrf" not in html.lower() and "sw.js" not in html
        for tag, attribute, address in found.found:
            if address.startswith(("#", "mailto:", "tel:", "https://")) and not address.startswith(BASE_URL):
                continue
            if address.startswith(BASE_URL):
                assert attribute == "href" and tag in ("a", "link"), (name, address)  # only links lead to the app
                continue
            assert not address.startswith("/"), (name, address)
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), address.partition("#")[0]))
            assert target in files, (name, address)
            if tag == "img":
                images += 1
                if target.endswith(".svg"):
                    assert files[target].startswith(b"<svg")
                else:
                    Image.open(io.BytesIO(files[target])).verify()
    assert images >= 5  # the hero, the program photo, the cover (page and lists), the body's image


async def test_only_published_content_goes_in(app, settings, site):
    files = read_zip((await build(app, settings)).path)
    text = "".join(data.decode("utf-8") for name, data in files.items() if name.endswith(".html"))
    assert "まだ下書きの記事" not in text
    assert {name for name in files if name.startswith("articles/") and name[9:-5].isdecimal()} == {
        f"articles/{site['first']}.html", f"articles/{site['second']}.html"}


async def test_a_private_upload_shown_on_a_public_page_stays_out_of_the_zip(app, settings, scene):
    """The export takes what a visitor gets: a receipt's address pasted into an article is a 404 to it."""
    receipt = await uploads.store(await uploads.prepare_attachment(picture("gold")), settings.var_dir,
                                  scene.editor.account_id, private=True)
    await publish(scene, settings.var_dir, title="領収書を貼った記事", body=f"![領収書]({receipt})")
    files = read_zip((await build(app, settings)).path)
    assert uploads.name_of(receipt) not in "".join(files)
    assert not [name for name in files if name.startswith("uploads/")]


async def test_pages_link_to_each_other_relatively_and_actions_go_back_to_the_app(app, settings, site):
    files = read_zip((await build(app, settings)).path)
    program = files[f"programs/{site['upcoming']}.html"].decode()
    assert 'href="index.html"' in program  # the list, from beside it
    assert f'href="{BASE_URL}/register"' in program and f'{BASE_URL}/login?next=' in program
    assert f'href="{BASE_URL}/programs/{site["upcoming"]}/calendar.ics"' in program
    article = files[f"articles/{site['second']}.html"].decode()
    assert f'href="{site["first"]}.html"' in article  # a Markdown link between articles
    assert f'href="../programs/{site["upcoming"]}.html#application"' in article
    assert re.search(r'src="\.\./uploads/[0-9a-f]{32}\.jpg"', article)
    home = files["index.html"].decode()
    assert f'href="programs/{site["upcoming"]}.html"' in home and 'href="static/css/app.css"' in home
    assert 'href="en/index.html" hreflang="en"' in home
    english = files["en/index.html"].decode()
    assert 'href="../index.html" hreflang="ja"' in english and 'href="../static/css/app.css"' in english
    assert '<html lang="en">' in english and "Programs" in english


async def test_a_build_replaces_the_last_one_and_each_is_audited(app, settings, site, scene):
    assert await static_export.last_build(settings.var_dir) is None
    await build(app, settings, scene.staff.account_id)
    await publish(scene, settings.var_dir, title="二度目に載る記事")
    second = await build(app, settings, scene.staff.account_id)
    kept = await static_export.last_build(settings.var_dir)
    assert kept is not None and kept.actor_name == "事務局 佐藤" and kept.size == second.size == kept.path.stat().st_size
    assert kept.pages == second.pages and kept.images == second.images
    assert "二度目に載る記事" in read_zip(kept.path)["articles/index.html"].decode()
    assert list(kept.path.parent.iterdir()) == [kept.path]  # no half-written file left beside it
    entries = await AuditLog.select(AuditLog.actor, AuditLog.detail).where(AuditLog.action == "portal.export")
    assert len(entries) == 2 and all(e["actor"] == scene.staff.account_id for e in entries)


async def test_the_rewriter_keeps_everything_but_the_addresses_and_htmx():
    html = ('<!doctype html><p class="x" data-a=\'1\'>&amp; &#12354; <!-- c --><a href="/a?b=1&amp;c=2#f" hx-get="/x">'
            'a</a><img src="/i.png" alt=""><br/><script>if (a < b) {}</script></p>')
    same = rewrite(html, lambda url, _lang: url, lambda url: url)
    assert same == html.replace(' hx-get="/x"', "")
    changed = rewrite(html, lambda url, _lang: "page.html", lambda url: "i.png")
    assert '<a href="page.html">' in changed and '<img src="i.png" alt="">' in changed and "&amp; &#12354;" in changed
