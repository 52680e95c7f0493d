"""The front layer: public pages kept for visitors without a login, pages gzipped around their CSRF token."""

import gzip
import re
import secrets

from app import compression
from app.auth import AUTH_COOKIE
from tests import factories
from tests.conftest import BASE_URL, Client, log_in

TOKEN = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)"')


def token_of(text: str) -> str:
    return TOKEN.search(text).group(1)


# Compression around the secret


def test_a_page_gzipped_around_its_token_unpacks_to_the_page():
    token = secrets.token_hex(64).encode()
    body = b"<head>" + token + b"</head>" + "<p>ふるさと住民</p>".encode() * 200 + b"<input value=" + token + b">"
    packed = compression.gzip_page(body, token)
    assert gzip.decompress(packed) == body
    assert len(packed) < len(body) // 4


def test_the_compressed_size_does_not_depend_on_the_token():
    """What BREACH measures: a guess that matches the token must not shrink the page."""
    token = b"a" * 128
    echoed = b"<p>" + token[:40] + b"</p>"  # an attacker's guess reflected in the page
    matching = compression.gzip_page(b"<meta " + token + b">" + echoed * 3, token)
    other = b"b" * 128
    differing = compression.gzip_page(b"<meta " + other + b">" + echoed * 3, other)
    assert len(matching) == len(differing)


def test_accept_encoding_is_read_with_its_weights():
    assert compression.accepts_gzip("gzip, deflate, br")
    assert compression.accepts_gzip("br;q=1.0, gzip;q=0.8")
    assert not compression.accepts_gzip("gzip;q=0")
    assert not compression.accepts_gzip("br, identity")
    assert not compression.accepts_gzip("gzip;q=abc")


# Kept pages


async def test_each_visitor_of_a_kept_page_gets_a_token_of_their_own_and_their_forms_work(app, client):
    first = await client.get("/")
    assert len(app.state.page_cache) == 1
    async with Client(app=app, base_url=BASE_URL) as other:
        second = await other.get("/")
        assert token_of(second.text) != token_of(first.text)
        assert second.headers["set-cookie"].startswith("tsunagu_csrf=" + token_of(second.text))
        assert "HttpOnly" in second.headers["set-cookie"] and "SameSite=lax" in second.headers["set-cookie"]
        # The kept page's form posts with the visitor's own token.
        changed = await other.post("/locale", data={"lang": "en", "next": "/", "_csrf_token": token_of(second.text)},
                                   follow_redirects=False)
        assert changed.status_code == 303
        again = await other.get("/")
        assert "set-cookie" not in again.headers  # their cookie is known and kept
        assert token_of(again.text) == token_of(second.text)
        assert '<html lang="en">' in again.text
    assert '<html lang="ja">' in (await client.get("/")).text  # each language kept apart
    assert len(app.state.page_cache) == 2


async def test_a_kept_page_is_the_page_as_rendered(app, client):
    rendered = await client.get("/programs", headers={"Accept-Encoding": "identity"})
    kept = await client.get("/programs", headers={"Accept-Encoding": "identity"})
    assert kept.text == rendered.text
    assert kept.headers["content-security-policy"] == rendered.headers["content-security-policy"]
    assert kept.headers["vary"] == rendered.headers["vary"]
    zipped = await client.get("/programs", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.text == rendered.text


async def test_a_forged_csrf_cookie_is_replaced_not_echoed(app, client):
    await client.get("/")
    async with Client(app=app, base_url=BASE_URL) as forger:
        forger.cookies.set("tsunagu_csrf", "3c7363726970743e" + "0" * 120)
        response = await forger.get("/")
    assert "3c7363726970743e" not in response.text
    assert response.headers["set-cookie"].startswith("tsunagu_csrf=" + token_of(response.text))


async def test_head_of_a_kept_page_has_its_headers_and_no_body(client):
    await client.get("/", headers={"Accept-Encoding": "identity"})
    head = await client.head("/", headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) == len((await client.get("/", headers={"Accept-Encoding": "identity"})).content)


async def test_a_logged_in_member_never_gets_a_kept_page(app, client):
    await client.get("/")
    registered = await factories.member("つなぐ花子")
    await log_in(client, registered.account_id)
    page = await client.get("/")
    assert "つなぐ花子" in page.text
    assert len(app.state.page_cache) == 1  # their page was not kept either


async def test_a_visitor_with_a_session_is_answered_afresh(app, client):
    await client.get("/")
    client.cookies.set("tsunagu_session", "whatever-they-have")
    await client.get("/programs")
    assert len(app.state.page_cache) == 1


async def test_pages_not_marked_public_and_answers_that_are_not_200_are_not_kept(app, client):
    await client.get("/login")
    await client.get("/programs/999999")
    await client.get("/programs?theme=no-such-theme")
    assert len(app.state.page_cache) == 0


async def test_a_change_by_someone_logged_in_shows_at_once_to_visitors(app, client, scene):
    assert "ほっき貝の浜" not in (await client.get("/programs")).text
    await factories.program(scene.area)
    assert "ほっき貝の浜" not in (await client.get("/programs")).text  # the kept copy, for up to its lifetime
    async with Client(app=app, base_url=BASE_URL) as staff:
        await log_in(staff, scene.staff.account_id)
        assert (await staff.submit("/locale", {"lang": "ja", "next": "/"}, follow_redirects=False)).status_code == 303
    assert "ほっき貝の浜" in (await client.get("/programs")).text


async def test_the_shop_counters_uses_leave_the_visitors_copies(app, client):
    """On a festival day the counters scan every few seconds: each use would otherwise empty the public copies."""
    from tests.routes.wallet.test_counter_pages import SHOP, curry_id, shop_client
    from tests.routes.wallet.test_wallet_pages import activated_member, shop_staff_for

    _account, token = await activated_member(client)
    async with Client(app=app, base_url=BASE_URL) as visitor:
        await visitor.get("/programs")
    async with shop_client(app, await shop_staff_for(SHOP)) as shop:
        used = await shop.hx_post("/shop/redeem", {"code": token, "offer": str(await curry_id()), "nonce": "n-1"})
        assert used.status_code == 200 and 'data-testid="redeem-ok"' in used.text
        assert len(app.state.page_cache) == 1
        undo = re.search(r'hx-post="(/shop/redemptions/\d+/undo)"', used.text).group(1)
        assert (await shop.hx_post(undo, {"from": "scanner"})).status_code == 200
        assert len(app.state.page_cache) == 1
        # Any other change by a logged-in person still empties them.
        assert (await shop.submit("/locale", {"lang": "ja", "next": "/"}, follow_redirects=False)).status_code == 303
    assert len(app.state.page_cache) == 0


def test_only_the_counters_uses_and_the_venues_check_ins_leave_the_visitors_copies(app):
    from app.page_cache import leaves_public_pages

    leaving = {handler.name for route in app.routes for handler in getattr(route, "route_handlers", ())
               if leaves_public_pages({"route_handler": handler})}
    assert leaving == {"redeem_offer", "undo_redemption", "send_counter_use", "create_check_in"}


async def test_a_kept_page_expires(app, client, scene):
    app.state.page_cache.ttl_s = 0.05
    await client.get("/programs")
    await factories.program(scene.area)
    import asyncio

    await asyncio.sleep(0.06)
    assert "ほっき貝の浜" in (await client.get("/programs")).text


async def test_no_copies_are_kept_when_turned_off(app, client):
    app.state.page_cache.ttl_s = 0
    await client.get("/")
    assert len(app.state.page_cache) == 0


async def test_the_cache_is_bounded_in_pages_and_bytes():
    from app.page_cache import PageCache

    cache = PageCache(60, max_entries=3, max_bytes=10_000)
    for n in range(5):
        cache.keep(("/", str(n).encode(), "ja", b"", b"", b""), 200, (), b"x" * 100, b"")
    assert len(cache) == 3
    cache.keep(("/big", b"", "ja", b"", b"", b""), 200, (), secrets.token_bytes(5_000), b"")
    assert cache.get(("/big", b"", "ja", b"", b"", b"")) is None  # more than an eighth of the bytes: never kept
    for n in range(3):
        cache.keep(("/p", str(n).encode(), "ja", b"", b"", b""), 200, (), secrets.token_bytes(3_000), b"")
    assert cache._bytes <= 10_000


async def test_an_auth_cookie_alone_means_no_kept_page(app, client):
    await client.get("/")
    client.cookies.set(AUTH_COOKIE, "expired-or-unknown")
    response = await client.get("/")
    assert response.status_code == 200
    assert "login-link" in response.text
