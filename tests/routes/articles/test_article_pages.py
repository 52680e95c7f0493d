"""Article pages: the public list, article page with OGP tags and Atom feed; the editors' form with its cover
image upload, every bad input shown next to its field with nothing half-saved; serving uploaded images."""

import io
import re
import xml.etree.ElementTree as ET
from email.utils import parsedate_to_datetime

import pytest
from PIL import Image

from app.services.articles import articles
from app.services.articles.articles import Actor
from app.services.shared import uploads
from db.tables import Article, Upload
from tests import factories
from tests.conftest import log_in

ATOM = "{http://www.w3.org/2005/Atom}"
FORM = {"kind": "report", "title": "田植え体験の報告", "lead": "都市から12人が参加しました。", "body": "## 当日\n\n晴れでした。"}


def photo(fmt: str = "JPEG", size=(2400, 1200)) -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    Image.new("RGB", size, "seagreen").save(out, fmt, **({"exif": exif.tobytes()} if fmt != "GIF" else {}))
    return out.getvalue()


@pytest.fixture
async def who():
    yufutsu = await factories.area()
    tarumae = await factories.area("樽前", "tarumae")
    return {
        "yufutsu": yufutsu,
        "tarumae": tarumae,
        "editor": await factories.staff_account("編集 鈴木", role="editor", area=yufutsu),
        "other_editor": await factories.staff_account("編集 高橋", role="editor", area=tarumae),
        "staff": await factories.staff_account(),
        "member": (await factories.member()).account_id,
    }


def actor(who, role: str = "editor") -> Actor:
    return Actor(who[role], "staff" if role == "staff" else "editor", None if role == "staff" else who["yufutsu"])


async def published_article(who, **changes) -> int:
    editor, staff = actor(who), actor(who, "staff")
    values = await articles.validate_article({**FORM, **changes}, editor)
    article_id = await articles.create_article(editor, values)
    await articles.transition(article_id, editor, "submitted")
    await articles.transition(article_id, staff, "published")
    return article_id


async def post_form(client, url: str, data: dict, files: dict | None = None, **kwargs):
    """Post the article form as the browser does: multipart, with the CSRF field."""
    token = await client.ensure_csrf()
    return await client.post(url, data={**data, "_csrf_token": token}, files=files or {"cover_file": ("", b"", "application/octet-stream")}, **kwargs)


def stored_files(settings) -> list:
    directory = settings.var_dir / "uploads"
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# Public pages ---------------------------------------------------------------------------------------


async def test_the_public_list_shows_published_articles_only(client, who):
    await published_article(who, title="公開された報告")
    await articles.create_article(actor(who), await articles.validate_article({**FORM, "title": "まだ下書き"}, actor(who)))
    response = await client.get("/articles")
    assert response.status_code == 200
    assert "公開された報告" in response.text and "まだ下書き" not in response.text
    assert 'type="application/atom+xml"' in response.text


async def test_the_list_filters_by_kind_and_htmx_gets_only_the_list(client, who):
    await published_article(who, title="インタビュー記事", kind="interview")
    await published_article(who, title="お知らせ記事", kind="news")
    response = await client.get("/articles?kind=interview")
    assert "インタビュー記事" in response.text and "お知らせ記事" not in response.text
    fragment = await client.get("/articles?kind=news", headers={"HX-Request": "true"})
    assert "お知らせ記事" in fragment.text and "インタビュー記事" not in fragment.text
    assert "<html" not in fragment.text and 'id="article-list"' in fragment.text
    assert "HX-Request" in fragment.headers["vary"]
    assert "インタビュー記事" in (await client.get("/articles?kind=unknown")).text  # an odd filter shows all


async def test_the_article_page_has_ogp_tags_and_a_safe_body(client, who, settings):
    cover = await uploads.save_image(photo(), settings.var_dir, who["editor"])
    article_id = await published_article(
        who, title="漁港の朝", lead="朝市の様子を伝えます。", cover_image=cover,
        body="本文<script>alert(1)</script>\n\n[危険](javascript:alert(1)) [安全](https://example.jp)",
    )
    response = await client.get(f"/articles/{article_id}")
    assert response.status_code == 200
    html = response.text
    url = f"http://localhost:8000/articles/{article_id}"
    assert '<meta property="og:type" content="article">' in html
    assert '<meta property="og:title" content="漁港の朝">' in html
    assert '<meta property="og:description" content="朝市の様子を伝えます。">' in html
    assert f'<meta property="og:url" content="{url}">' in html
    assert f'<meta property="og:image" content="http://localhost:8000{cover}">' in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    body = html.split('data-testid="article-body"', 1)[1]
    assert "<script>alert" not in body and "&lt;script&gt;" in body
    assert 'href="javascript' not in body
    assert '<a href="https://example.jp" rel="noopener nofollow">安全</a>' in body


async def test_a_draft_or_unknown_article_is_not_found(client, who):
    draft_id = await articles.create_article(actor(who), await articles.validate_article(FORM, actor(who)))
    assert (await client.get(f"/articles/{draft_id}")).status_code == 404
    assert (await client.get("/articles/999999")).status_code == 404
    assert (await client.get("/articles/99999999999999999999")).status_code == 404  # beyond the id column


async def test_the_atom_feed_lists_the_latest_published_articles(client, who):
    first = await published_article(who, title="最初の報告")
    second = await published_article(who, title="R&D <研究> の報告", body="**強調** <script>x</script>")
    response = await client.get("/articles.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    assert "set-cookie" not in response.headers  # no session or CSRF cookie on a feed
    feed = ET.fromstring(response.content)
    assert feed.tag == f"{ATOM}feed"
    assert feed.find(f"{ATOM}link[@rel='self']").get("href") == "http://localhost:8000/articles.atom"
    entries = feed.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}title").text for e in entries] == ["R&D <研究> の報告", "最初の報告"]
    assert [e.find(f"{ATOM}id").text for e in entries] == [
        f"http://localhost:8000/articles/{second}", f"http://localhost:8000/articles/{first}",
    ]
    content = entries[0].find(f"{ATOM}content")
    assert content.get("type") == "html"
    assert "<strong>強調</strong>" in content.text and "<script>" not in content.text
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entries[0].find(f"{ATOM}updated").text)


async def test_an_empty_feed_is_still_valid(client):
    feed = ET.fromstring((await client.get("/articles.atom")).content)
    assert feed.find(f"{ATOM}updated").text and feed.findall(f"{ATOM}entry") == []


async def test_the_rss_feed_carries_the_same_articles_with_full_text_and_cover_image(client, who):
    first = await published_article(who, title="最初の報告")
    second = await published_article(who, title="R&D <研究> の報告", body="**強調** <script>x</script>")
    await Article.update({Article.cover_image: "/uploads/abc123.webp"}).where(Article.id == second)
    response = await client.get("/articles.rss")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/rss+xml")
    assert "set-cookie" not in response.headers
    rss = ET.fromstring(response.content)
    assert rss.tag == "rss" and rss.get("version") == "2.0"
    channel = rss.find("channel")
    assert channel.find(f"{ATOM}link").get("href") == "http://localhost:8000/articles.rss"
    assert channel.find("language").text == "ja"
    items = channel.findall("item")
    assert [i.find("title").text for i in items] == ["R&D <研究> の報告", "最初の報告"]
    assert [i.find("guid").text for i in items] == [
        f"http://localhost:8000/articles/{second}", f"http://localhost:8000/articles/{first}",
    ]
    full = items[0].find("{http://purl.org/rss/1.0/modules/content/}encoded").text
    assert "<strong>強調</strong>" in full and "<script>" not in full
    image = items[0].find("{http://search.yahoo.com/mrss/}content")
    assert (image.get("url"), image.get("type")) == ("http://localhost:8000/uploads/abc123.webp", "image/webp")
    assert items[1].find("{http://search.yahoo.com/mrss/}content") is None
    # RFC 822 dates, as RSS 2.0 and WordPress's importer read them.
    assert parsedate_to_datetime(items[0].find("pubDate").text).tzinfo is not None
    assert parsedate_to_datetime(channel.find("lastBuildDate").text).tzinfo is not None


async def test_an_empty_rss_feed_is_still_valid(client):
    channel = ET.fromstring((await client.get("/articles.rss")).content).find("channel")
    assert channel.find("lastBuildDate").text and channel.findall("item") == []


# Editors' pages -------------------------------------------------------------------------------------


async def test_an_editor_writes_an_article_with_a_cover_image(client, who, settings):
    await log_in(client, who["editor"])
    assert (await client.get("/editor/articles/new")).status_code == 200
    response = await post_form(client, "/editor/articles", FORM, files={"cover_file": ("田植え.jpg", photo(), "image/jpeg")},
                               follow_redirects=False)
    assert response.status_code == 303
    row = await Article.select().where(Article.title == FORM["title"]).first()
    assert (row["status"], row["area"], row["author"]) == ("draft", who["yufutsu"], who["editor"])
    assert response.headers["location"] == f"/editor/articles/{row['id']}"
    name = uploads.name_of(row["cover_image"])
    assert stored_files(settings) == [name]
    image = await client.get(row["cover_image"])
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/jpeg"
    assert image.headers["x-content-type-options"] == "nosniff"
    assert image.headers["cache-control"] == "public, max-age=31536000, immutable"  # a cover: any cache keeps it
    assert "set-cookie" not in image.headers
    stored = Image.open(io.BytesIO(image.content))
    assert stored.size == (1600, 800) and not dict(stored.getexif())
    page = await client.get(response.headers["location"])
    assert "下書きを保存しました。" in page.text


async def test_an_editor_can_save_and_submit_in_one_step(client, who):
    await log_in(client, who["editor"])
    response = await post_form(client, "/editor/articles", {**FORM, "then": "submit"}, follow_redirects=False)
    assert response.status_code == 303
    assert (await Article.select(Article.status).first())["status"] == "submitted"


@pytest.mark.parametrize("filename,data,content_type", [
    ("shell.jpg", b"<?php system($_GET['c']); ?>", "image/jpeg"),
    ("anime.gif", photo("GIF", (40, 40)), "image/gif"),
    ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/svg+xml"),
    ("huge.jpg", b"\xff\xd8\xff" + b"\x00" * (5 * 1024 * 1024 + 10), "image/jpeg"),
    ("cut.jpg", photo()[:-400], "image/jpeg"),
])
async def test_a_file_that_is_not_a_usable_image_is_refused_next_to_the_field(client, who, settings, filename, data, content_type):
    await log_in(client, who["editor"])
    response = await post_form(client, "/editor/articles", FORM, files={"cover_file": (filename, data, content_type)})
    assert response.status_code == 422
    error = re.search(r'data-testid="error-cover_file">([^<]+)<', response.text)
    assert error and ("画像" in error.group(1) or "MB" in error.group(1))
    assert 'aria-invalid="true" aria-describedby="cover_file-error"' in response.text
    assert await Article.count() == 0 and await Upload.count() == 0
    assert stored_files(settings) == []
    assert FORM["title"] in response.text  # what was typed is kept


async def test_a_good_image_is_not_kept_when_another_field_is_wrong(client, who, settings):
    await log_in(client, who["editor"])
    response = await post_form(client, "/editor/articles", {**FORM, "title": ""},
                               files={"cover_file": ("ok.jpg", photo(), "image/jpeg")})
    assert response.status_code == 422
    assert 'data-testid="error-title"' in response.text and "タイトルを入力してください。" in response.text
    assert 'data-testid="error-cover_file"' in response.text  # asks for the picture again
    assert await Article.count() == 0 and await Upload.count() == 0 and stored_files(settings) == []


async def test_over_long_fields_and_an_unknown_program_are_named(client, who):
    await log_in(client, who["editor"])
    response = await post_form(client, "/editor/articles", {**FORM, "title": "長" * 121, "body": "本" * 20001, "program": "999999"})
    assert response.status_code == 422
    for field in ("title", "body", "program"):
        assert f'data-testid="error-{field}"' in response.text
    assert "120文字以内で入力してください。" in response.text
    assert await Article.count() == 0


async def test_an_htmx_post_with_errors_gets_only_the_form(client, who):
    await log_in(client, who["editor"])
    token = await client.ensure_csrf()
    response = await client.post("/editor/articles", data={**FORM, "title": ""}, files={"cover_file": ("", b"", "application/octet-stream")},
                                 headers={"HX-Request": "true", "x-csrftoken": token})
    assert response.status_code == 422
    assert response.text.lstrip().startswith("<form") and "<html" not in response.text


async def test_an_editor_sees_only_their_areas_articles(client, who):
    await articles.create_article(actor(who), await articles.validate_article({**FORM, "title": "勇払の記事"}, actor(who)))
    other = Actor(who["other_editor"], "editor", who["tarumae"])
    other_id = await articles.create_article(other, await articles.validate_article({**FORM, "title": "樽前の記事"}, other))
    await log_in(client, who["editor"])
    listing = await client.get("/editor/articles")
    assert "勇払の記事" in listing.text and "樽前の記事" not in listing.text
    assert (await client.get(f"/editor/articles/{other_id}")).status_code == 403
    response = await post_form(client, f"/editor/articles/{other_id}", FORM)
    assert response.status_code == 403
    assert (await Article.select(Article.title).where(Article.id == other_id).first())["title"] == "樽前の記事"


async def test_submitting_for_review_then_editing_after_publication_waits_for_review_as_a_change(client, who):
    await log_in(client, who["editor"])
    article_id = await articles.create_article(actor(who), await articles.validate_article(FORM, actor(who)))
    response = await client.submit(f"/editor/articles/{article_id}/submit", follow_redirects=False)
    assert response.status_code == 303
    assert (await Article.select(Article.status).first())["status"] == "submitted"
    locked = await client.get(f"/editor/articles/{article_id}")
    assert 'data-testid="article-form"' not in locked.text  # under review: nothing to edit
    await articles.transition(article_id, actor(who, "staff"), "published")
    response = await post_form(client, f"/editor/articles/{article_id}", {**FORM, "title": "田植え体験の報告（写真追加）"},
                               follow_redirects=False)
    assert response.status_code == 303
    row = await Article.select().where(Article.id == article_id).first()
    assert (row["status"], row["title"]) == ("published", "田植え体験の報告")
    public = await client.get(f"/articles/{article_id}")
    assert public.status_code == 200 and "（写真追加）" not in public.text
    form = await client.get(f"/editor/articles/{article_id}")
    assert 'data-testid="revision-banner"' in form.text and 'value="田植え体験の報告（写真追加）"' in form.text
    assert (await articles.pending_revision(article_id))["values"]["title"] == "田植え体験の報告（写真追加）"


async def test_staff_write_news_for_the_whole_region(client, who):
    await log_in(client, who["staff"])
    response = await post_form(client, "/editor/articles", {**FORM, "kind": "news", "area": ""}, follow_redirects=False)
    assert response.status_code == 303
    row = await Article.select().first()
    assert (row["kind"], row["area"]) == ("news", None)


async def test_members_and_visitors_cannot_open_the_editor_pages(client, who):
    response = await client.get("/editor/articles", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    await log_in(client, who["member"])
    assert (await client.get("/editor/articles")).status_code == 403
    assert (await post_form(client, "/editor/articles", FORM)).status_code == 403
    assert await Article.count() == 0


# The upload page and serving images ------------------------------------------------------------------


async def test_the_upload_page_gives_the_line_to_paste(client, who, settings):
    await log_in(client, who["editor"])
    token = await client.ensure_csrf()
    response = await client.post("/editor/uploads", data={"_csrf_token": token},
                                 files={"file": ("海.png", photo("PNG", (300, 200)), "image/png")}, follow_redirects=False)
    assert response.status_code == 303
    name = stored_files(settings)[0]
    assert response.headers["location"] == f"/editor/uploads?uploaded={name}"
    page = await client.get(response.headers["location"])
    assert f'value="![](/uploads/{name})"' in page.text


async def test_the_upload_page_refuses_a_non_image(client, who, settings):
    await log_in(client, who["editor"])
    token = await client.ensure_csrf()
    response = await client.post("/editor/uploads", data={"_csrf_token": token},
                                 files={"file": ("a.jpg", b"GIF89a not really", "image/jpeg")})
    assert response.status_code == 422
    assert 'data-testid="error-file"' in response.text
    assert stored_files(settings) == [] and await Upload.count() == 0


async def test_unknown_or_odd_upload_names_are_not_found(client, who, settings):
    url = await uploads.save_image(photo(), settings.var_dir, None)
    (settings.var_dir / "secret.txt").write_text("secret")
    assert (await client.get(url)).status_code == 200
    for path in ("/uploads/0123456789abcdef0123456789abcdef.jpg", "/uploads/..%2Fsecret.txt", "/uploads/secret.txt"):
        assert (await client.get(path)).status_code == 404, path


async def test_the_preview_shows_an_unpublished_article_to_staff_and_its_areas_editors(client, who):
    article_id = await articles.create_article(actor(who), await articles.validate_article(
        {**FORM, "body": "審査前の本文<iframe src=x></iframe>"}, actor(who)))
    await log_in(client, who["staff"])
    response = await client.get(f"/editor/articles/{article_id}/preview")
    assert response.status_code == 200
    assert "審査前の本文" in response.text and "<iframe" not in response.text
    assert response.headers["cache-control"] == "no-store"
    await log_in(client, who["other_editor"])
    assert (await client.get(f"/editor/articles/{article_id}/preview")).status_code == 403
    await log_in(client, who["member"])
    assert (await client.get(f"/editor/articles/{article_id}/preview")).status_code == 403


async def test_a_published_article_offers_texts_for_the_official_accounts(client, who):
    article_id = await published_article(who, title="勇払の牧場で、酪農の一日を体験しました")
    await log_in(client, who["staff"])
    page = (await client.get(f"/editor/articles/{article_id}")).text
    assert 'data-testid="social-post-x"' in page and f"http://localhost:8000/c/sns-x?to=%2Farticles%2F{article_id}" in page
