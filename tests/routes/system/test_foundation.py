"""The base every page stands on: portal, errors that are pages, CSRF, security headers, PWA files."""

import re

import pytest

from app.middleware import CONTENT_SECURITY_POLICY
from app.templating import STATIC_DIR
from db.engine import make_engine


async def test_home_page_renders_in_japanese_by_default(client):
    response = await client.get("/")
    assert response.status_code == 200
    assert '<html lang="ja">' in response.text
    assert "つながり方をえらぶ" in response.text
    assert response.headers["vary"].startswith("HX-Request")


async def test_home_page_follows_accept_language_english(client):
    response = await client.get("/", headers={"Accept-Language": "en-US,en;q=0.9,ja;q=0.5"})
    assert '<html lang="en">' in response.text
    assert "Ways to connect" in response.text


async def test_locale_cookie_wins_over_accept_language(client):
    await client.get("/")
    response = await client.submit("/locale", {"lang": "en", "next": "/"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    page = await client.get("/", headers={"Accept-Language": "ja"})
    assert '<html lang="en">' in page.text


async def test_a_logged_in_persons_choice_of_language_is_kept_for_what_the_app_writes_them(client):
    from db.tables import Account
    from tests import factories
    from tests.conftest import log_in

    member = await factories.member("Emma")
    await log_in(client, member.account_id)
    await client.submit("/locale", {"lang": "en", "next": "/"}, follow_redirects=False)
    assert (await Account.select(Account.locale).where(Account.id == member.account_id).first())["locale"] == "en"


async def test_locale_switch_refuses_to_redirect_off_site(client):
    response = await client.submit("/locale", {"lang": "en", "next": "//evil.example/"}, follow_redirects=False)
    assert response.headers["location"] == "/"


async def test_locale_switch_ignores_unknown_language(client):
    response = await client.submit("/locale", {"lang": "xx", "next": "/"}, follow_redirects=False)
    assert response.status_code == 303
    assert "lang=" not in response.headers.get("set-cookie", "")


async def test_unknown_url_gets_a_japanese_404_page(client):
    response = await client.get("/no-such-page")
    assert response.status_code == 404
    assert "ページが見つかりません" in response.text
    assert 'data-testid="error-page"' in response.text


async def test_wrong_method_gets_a_405_page(client):
    response = await client.delete("/")
    assert response.status_code == 405
    assert "この操作はここでは使えません" in response.text


async def test_post_without_csrf_token_gets_a_403_page(client):
    await client.get("/")
    response = await client.post("/locale", data={"lang": "en"})
    assert response.status_code == 403
    assert "フォームの有効期限が切れました" in response.text


async def test_htmx_post_with_csrf_header_is_accepted_and_told_where_to_go(client):
    response = await client.hx_post("/locale", {"lang": "en", "next": "/"}, follow_redirects=False)
    assert response.status_code == 200
    assert response.headers["hx-redirect"] == "/"


async def test_oversized_body_gets_a_413_page(client, settings):
    token = await client.ensure_csrf()
    body = "lang=en&_csrf_token=" + token + "&pad=" + "x" * (settings.max_body_bytes + 10)
    response = await client.post(
        "/locale", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413
    assert "送信されたデータが大きすぎます" in response.text


async def test_json_clients_get_json_errors(client):
    response = await client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json()["status"] == 404


async def test_every_response_carries_security_headers(client):
    for path in ("/", "/no-such-page", "/sw.js", "/offline"):
        response = await client.get(path)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"


async def test_files_carry_only_what_applies_to_a_file(client):
    for path in ("/static/css/app.css", "/icons/icon-192.png", "/theme.css", "/manifest.webmanifest"):
        response = await client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert "content-security-policy" not in response.headers, path


async def test_no_page_has_an_inline_script(client):
    response = await client.get("/")
    assert "<script>" not in response.text
    assert " on" + "click=" not in response.text


async def test_session_and_csrf_cookies_are_httponly_and_lax(client):
    response = await client.get("/")
    cookies = response.headers.get_list("set-cookie")
    assert cookies, "the first visit sets the CSRF cookie"
    for cookie in cookies:
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie


async def test_healthz_reports_the_database(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "database_connections_lost": 0}


async def test_healthz_answers_503_when_the_database_cannot_be_reached(app, client, tmp_path):
    app.state.engine = make_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'tsunagu.sqlite3'}")
    response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "error"


async def test_manifest_has_what_an_installable_app_needs(client):
    response = await client.get("/manifest.webmanifest")
    manifest = response.json()
    assert response.headers["content-type"].startswith("application/manifest+json")
    assert manifest["lang"] == "ja"
    assert manifest["display"] == "standalone"
    assert manifest["start_url"].startswith("/")
    assert "orientation" not in manifest  # a counter tablet stands in landscape
    assert [shortcut["url"] for shortcut in manifest["shortcuts"]] == ["/card", "/wallet"]
    sizes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        image = await client.get(icon["src"])
        assert image.status_code == 200
        assert image.content.startswith(b"\x89PNG")


async def test_the_logo_is_a_small_svg_in_the_theme_colours(client, settings):
    response = await client.get("/icons/icon.svg")
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.text.startswith("<svg") and settings.branding.theme_color in response.text
    assert len(response.content) < 1024
    assert "/icons/icon.svg" in (await client.get("/")).text


async def test_unknown_icon_is_a_404(client):
    response = await client.get("/icons/../../etc/passwd")
    assert response.status_code == 404


async def test_service_worker_is_served_uncached_with_a_version(client):
    response = await client.get("/sw.js")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["content-type"].startswith("text/javascript")
    version = response.headers["x-sw-version"]
    assert f'const SW_VERSION = "{version}";' in response.text
    assert "addEventListener('fetch'" in response.text
    assert "/static/css/app.css?v=" in response.text


async def test_page_scripts_share_one_http_helper_loaded_and_precached_before_them(client):
    home = (await client.get("/")).text
    assert home.index("/static/js/http.js?v=") < home.index("/static/js/app.js?v=")
    assert "/static/js/http.js?v=" in (await client.get("/sw.js")).text
    for script in (STATIC_DIR / "js").glob("*.js"):
        if script.name != "http.js":
            source = script.read_text(encoding="utf-8")
            for copy in ("function csrfToken", "csrf-token", "function postJSON", "atob(", "btoa("):
                assert copy not in source, f"{script.name} has its own {copy}: use window.Tsunagu.http"


async def test_static_urls_carry_a_content_hash(client):
    response = await client.get("/")
    assert "/static/css/app.css?v=" in response.text
    assert "/static/vendor/htmx-2.0.8.min.js?v=" in response.text


async def test_offline_page_renders(client):
    response = await client.get("/offline")
    assert response.status_code == 200
    assert "オフラインです" in response.text


async def test_an_unexpected_error_is_a_japanese_500_page_and_is_logged(app, client, caplog):
    from litestar import get

    @get("/boom", name="boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    app.register(boom)
    response = await client.get("/boom")
    assert response.status_code == 500
    assert "システムで問題が発生しました" in response.text
    assert "a bug" not in response.text
    assert any("unhandled error on GET /boom" in r.getMessage() for r in caplog.records)


async def test_request_log_lines_are_readable(client, caplog):
    caplog.set_level("INFO", logger="tsunagu.access")
    await client.get("/no-such-page?token=secret")
    line = next(r.getMessage() for r in caplog.records if r.name == "tsunagu.access")
    assert line.startswith("GET /no-such-page 404 ")
    assert "secret" not in line


async def test_static_files_and_pages_are_gzipped(client):
    script = await client.get("/static/vendor/jsQR-1.4.0.js", headers={"Accept-Encoding": "gzip"})
    assert script.headers.get("content-encoding") == "gzip"
    smaller = await client.get("/static/vendor/jsQR-1.4.0.js", headers={"Accept-Encoding": "gzip, br"})
    assert smaller.headers.get("content-encoding") == "br" and smaller.content == script.content
    home = await client.get("/", headers={"Accept-Encoding": "gzip"})
    assert home.headers.get("content-encoding") == "gzip"
    assert "Accept-Encoding" in home.headers["vary"]
    plain = await client.get("/", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert int(plain.headers["content-length"]) == len(plain.content) > int(home.headers["content-length"])


async def test_static_files_are_compressed_once_and_unpack_to_the_file_on_disk(client):
    on_disk = (STATIC_DIR / "vendor" / "htmx-2.0.8.min.js").read_bytes()
    for coding in ("br", "gzip", "identity"):
        for _ in range(2):  # the second answer comes from what the first kept
            response = await client.get("/static/vendor/htmx-2.0.8.min.js", headers={"Accept-Encoding": coding})
            assert response.status_code == 200 and response.content == on_disk, coding
            assert response.headers.get("content-encoding", "identity") == coding
            assert "etag" not in response.headers
    head = await client.head("/static/vendor/htmx-2.0.8.min.js", headers={"Accept-Encoding": "br"})
    assert head.content == b"" and int(head.headers["content-length"]) < len(on_disk) // 3
    assert (await client.get("/static/no-such-file.js", headers={"Accept-Encoding": "br"})).status_code == 404


async def test_hashed_static_urls_are_kept_for_a_year_and_others_are_checked(client):
    page = (await client.get("/")).text
    versioned = re.search(r'/static/css/app\.css\?v=\w+', page).group(0)
    response = await client.get(versioned)
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    response = await client.get("/static/css/app.css")
    assert response.headers["cache-control"] == "no-cache"


async def test_the_portal_shows_open_programs_and_published_stories(client):
    from app.demo import load_demo_data

    await load_demo_data()
    page = await client.get("/")
    assert page.text.count('data-testid="portal-program"') >= 1
    assert "新しいプログラムを準備しています" not in page.text


async def test_the_hero_asks_visitors_to_register_and_gives_members_their_card(client):
    from tests import factories
    from tests.conftest import log_in

    visitor = await client.get("/")
    assert 'data-testid="hero-register"' in visitor.text and 'data-testid="hero-card"' not in visitor.text
    await log_in(client, (await factories.member()).account_id)
    member = await client.get("/")
    assert 'data-testid="hero-card"' in member.text and "会員証を開く" in member.text
    assert 'data-testid="hero-register"' not in member.text
    await log_in(client, await factories.staff_account())
    staff = await client.get("/")
    assert 'data-testid="hero-register"' not in staff.text and 'data-testid="hero-card"' not in staff.text


@pytest.mark.parametrize("path", ["/", "/sw.js", "/programs", "/manifest.webmanifest", "/healthz", "/offline"])
async def test_head_answers_like_get_without_a_body(client, path):
    get = await client.get(path)
    head = await client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]


async def test_head_of_an_unknown_page_is_a_404_without_a_body(client):
    head = await client.head("/no-such-page")
    assert head.status_code == 404 and head.content == b""


def test_templates_give_every_address_as_litestar_does(app):
    """url_for fills in the path route_reverse would pick, chosen once per route and parameter names."""
    from datetime import date
    from pathlib import Path
    from types import SimpleNamespace
    from uuid import UUID

    from litestar.exceptions import NoRouteMatchFoundException

    from app.templating import Addresses

    samples = {int: 7, str: "abc-1", UUID: UUID(int=5), date: date(2026, 12, 7), Path: Path("a/b")}
    addresses, context = Addresses(), {"request": SimpleNamespace(app=app)}
    named = {(handler.name, name): definition.type for route in app.routes for handler in getattr(route, "route_handlers", ())
             if handler.name for name, definition in route.path_parameters.items()}
    assert ("undo_redemption", "redemption_id") in named and len(named) > 50
    for route_name in {route_name for route_name, _ in named}:
        given = {name: samples[kind] for (other, name), kind in named.items() if other == route_name}
        if "name" in given:  # route_reverse(name, **parameters) cannot be given a parameter called name
            continue
        for _ in range(2):  # the first call chooses the path, the second uses it
            assert addresses(context, route_name, **given) == app.route_reverse(route_name, **given), route_name
    assert addresses(context, "scan_wallet") == "/shop/scan"
    with pytest.raises(NoRouteMatchFoundException):
        addresses(context, "undo_redemption", redemption_id="not a number")
    with pytest.raises(NoRouteMatchFoundException):
        addresses(context, "no_such_route", redemption_id=1)


def test_templates_read_the_fields_of_a_row_as_jinja_reads_them():
    """A dict's item by attribute, its methods still its methods (a row with an "items" field among them), an
    absent field undefined, an object's attribute as before."""
    from types import SimpleNamespace

    from jinja2 import Environment, StrictUndefined, UndefinedError

    from app.templating import PageEnvironment

    source = ("{{ row.title }}|{{ row.items()|list|length }}|{{ row.get('id') }}|{{ row.missing is defined }}"
              "|{{ row.__class__.__name__ }}|{{ thing.title }}|{{ thing.items }}")
    context = {"row": {"title": "<b>", "id": 3, "items": "x"}, "thing": SimpleNamespace(title="t", items=[1])}
    expected = Environment(undefined=StrictUndefined, autoescape=True).from_string(source).render(context)
    ours = PageEnvironment("ja", undefined=StrictUndefined, autoescape=True)
    assert ours.from_string(source).render(context) == expected == "&lt;b&gt;|3|3|False|dict|t|[1]"
    with pytest.raises(UndefinedError):
        ours.from_string("{{ row.missing }}").render(context)
