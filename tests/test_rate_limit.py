"""The rate limits hold under a burst, on the database (this run's SQLite or PostgreSQL) and on Redis; they
are mounted on the handlers they limit and nowhere else; the client is the peer of the connection unless
that peer is a trusted proxy, and then the right-most address in X-Forwarded-For that is not one."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone
from ipaddress import ip_network

import pytest
import redis.asyncio as aioredis

from app import rate_limit
from app.demo.wallet import load_wallet_demo
from app.main import create_app
from app.rate_limit import auth_rate_limit, scan_rate_limit
from app.services.membership import login_sessions
from app.services.shared import clock, rate_counts
from db.tables import RateCount, Shop
from tests import factories
from tests.conftest import BASE_URL, USE_POSTGRES, Client, log_in, requires_redis
from tests.passkey_client import post_json

REDIS_URL = "redis://127.0.0.1:6379/15"
STORES = ["database", pytest.param("redis", marks=requires_redis)]


@pytest.fixture
async def make_app(settings, monkeypatch):
    """An app counting in the store named, with the settings changed as asked. Redis keys get a prefix of this
    test's own, so tests on the same Redis never share a count; they are deleted afterwards."""
    prefix = f"test:rate:{uuid.uuid4().hex}"
    monkeypatch.setattr(rate_limit, "REDIS_PREFIX", prefix)
    # Five seconds into a minute, for good: a burst on a busy machine must not straddle two windows.
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 12, 6, 3, 0, 5, tzinfo=timezone.utc))
    stores = set()

    def make(store: str = "database", **changes):
        stores.add(store)
        return create_app(settings.with_(redis_url=REDIS_URL if store == "redis" else "", **changes))

    yield make
    if "redis" in stores:
        redis = aioredis.from_url(REDIS_URL)
        keys = [key async for key in redis.scan_iter(match=prefix + ":*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


def statuses(responses) -> dict[int, int]:
    counted: dict[int, int] = {}
    for response in responses:
        counted[response.status_code] = counted.get(response.status_code, 0) + 1
    return counted


async def shop_account() -> int:
    await load_wallet_demo()
    shop = await Shop.select(Shop.id).first()
    return await factories.staff_account("店員 田中", role="shop", shop=shop["id"])


# --- a burst --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("store", STORES)
async def test_150_scans_at_once_from_one_shop_account_let_exactly_60_through(make_app, store):
    staff_id = await shop_account()
    async with Client(app=make_app(store), base_url=BASE_URL, raise_server_exceptions=False) as shop:
        await log_in(shop, staff_id)
        responses = await asyncio.gather(*[shop.get("/shop/scan", params={"code": "ABCD-EFGH"}) for _ in range(150)])
    assert statuses(responses) == {200: 60, 429: 90}


@pytest.mark.parametrize("store", STORES)
async def test_30_uses_at_once_from_one_shop_account_let_exactly_10_through(make_app, store):
    """A use is counted with the login's lookup on PostgreSQL (the database's counts), by the guard elsewhere:
    the limit holds the same."""
    staff_id = await shop_account()
    app = make_app(store, scan_rate_limit_per_minute=10)
    async with Client(app=app, base_url=BASE_URL, raise_server_exceptions=False) as shop:
        await log_in(shop, staff_id)
        await shop.ensure_csrf()
        responses = await asyncio.gather(*[shop.hx_post("/shop/redeem", {"code": "ABCD-EFGH", "offer": "1", "nonce": f"n-{n}"})
                                           for n in range(30)])
    assert statuses(responses) == {409: 10, 429: 20}  # 409: no such pass, said only within the limit


@pytest.mark.parametrize("store", STORES)
async def test_60_login_starts_at_once_let_exactly_20_through(make_app, store):
    async with Client(app=make_app(store), base_url=BASE_URL, raise_server_exceptions=False) as client:
        await client.ensure_csrf()
        responses = await asyncio.gather(*[post_json(client, "/passkeys/login/options") for _ in range(60)])
    assert statuses(responses) == {201: 20, 429: 40}


async def test_two_apps_on_one_database_count_together(make_app):
    """Two processes of one installation: what one counted, the other sees."""
    first, second = make_app(auth_rate_limit_per_minute=4), make_app(auth_rate_limit_per_minute=4)
    async with Client(app=first, base_url=BASE_URL, raise_server_exceptions=False) as a, \
            Client(app=second, base_url=BASE_URL, raise_server_exceptions=False) as b:
        await a.ensure_csrf()
        await b.ensure_csrf()
        responses = await asyncio.gather(*[post_json(client, "/passkeys/login/options") for client in (a, b) * 5])
    assert statuses(responses) == {201: 4, 429: 6}


# --- the refusal ----------------------------------------------------------------------------------------


async def test_a_refused_request_says_when_to_try_again(make_app):
    async with Client(app=make_app(auth_rate_limit_per_minute=1), base_url=BASE_URL, raise_server_exceptions=False) as client:
        assert (await post_json(client, "/passkeys/login/options")).status_code == 201
        as_json = await post_json(client, "/passkeys/login/options")
        as_page = await client.post("/passkeys/login/options", headers={"x-csrftoken": await client.ensure_csrf()})
    for refused in (as_json, as_page):
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert as_json.json()["status"] == 429
    assert 'data-testid="error-page"' in as_page.text and "少し時間をおいてから" in as_page.text


# --- mounted only where they limit ----------------------------------------------------------------------

LIMITED = {
    auth_rate_limit: {"submit_registration", "create_login_options", "verify_login", "create_passkey_options",
                      "verify_new_passkey", "request_recovery", "accept_invitation", "submit_inquiry"},
    scan_rate_limit: {"scan_wallet", "redeem_offer", "send_counter_use"},
}


def test_the_limits_guard_exactly_the_logins_registrations_recoveries_contact_form_and_scans(app):
    guarded = {limit: set() for limit in LIMITED}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for limit in LIMITED:
                if limit in handler.resolve_guards():
                    guarded[limit].add(handler.name)
    assert guarded == LIMITED


def keys_counted(app, monkeypatch) -> list[str]:
    """The keys the app's rate counts are asked to count, as they are asked (the counts still count them)."""
    hits = []
    counts = app.state.rate_limits.counts
    original = counts.hit

    async def counted(*args):
        hits.append(args[0])
        return await original(*args)

    monkeypatch.setattr(counts, "hit", counted)
    return hits


async def test_pages_without_a_limit_never_touch_the_counter(make_app, monkeypatch):
    app = make_app()
    hits = keys_counted(app, monkeypatch)
    staff_id = await shop_account()
    async with Client(app=app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        for path in ("/", "/login", "/register", "/contact", "/passes", "/healthz", "/sw.js"):
            assert (await client.get(path)).status_code == 200, path
        await log_in(client, staff_id)
        assert (await client.get("/shop")).status_code == 200
        assert hits == [] and await RateCount.count() == 0
        assert (await client.get("/shop/scan")).status_code == 200
    key = f"scan:account:{staff_id}"
    assert hits == ([] if USE_POSTGRES else [key])  # PostgreSQL counts it with the login's lookup
    assert await RateCount.select(RateCount.key, RateCount.hits) == [{"key": key, "hits": 1}]


async def test_on_postgresql_a_use_is_counted_with_the_logins_lookup(make_app, monkeypatch):
    app = make_app()
    hits = keys_counted(app, monkeypatch)
    staff_id = await shop_account()
    async with Client(app=app, base_url=BASE_URL, raise_server_exceptions=False) as shop:
        await log_in(shop, staff_id)
        await shop.ensure_csrf()
        for n in range(2):
            assert (await shop.hx_post("/shop/redeem", {"code": "ABCD-EFGH", "offer": "1", "nonce": f"n-{n}"})).status_code == 409
    key = f"scan:account:{staff_id}"
    assert hits == ([] if USE_POSTGRES else [key, key])  # SQLite has no INSERT inside WITH: the guard counts
    assert [row["hits"] for row in await RateCount.select(RateCount.hits).where(RateCount.key == key)] == [2]


@pytest.mark.skipif(not USE_POSTGRES, reason="SQLite has no INSERT inside WITH: there the guard counts a scan itself")
async def test_a_login_looked_up_with_its_count_counts_under_the_guards_own_key(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 12, 6, 3, 0, 5, tzinfo=timezone.utc))  # one window
    staff_id = await shop_account()
    token = await login_sessions.start(staff_id, "test")
    assert login_sessions.counts_with_login()
    first = await login_sessions.resolve_counting(token, "scan:account:", 60)
    second = await login_sessions.resolve_counting(token, "scan:account:", 60)
    assert first[0].id == second[0].id == staff_id and (first[1].count, second[1].count) == (1, 2)
    now = clock.now()
    assert (await rate_counts.InDatabase().hit(f"scan:account:{staff_id}", now, 60)).count == 3
    assert first[1].window_ends == rate_counts.window_ends(now, 60)
    assert await login_sessions.resolve_counting("no-such-login", "scan:account:", 60) == (None, None)


# --- who the client is ----------------------------------------------------------------------------------


def with_peer(app):
    """The app as reached from the address in the test-only header X-Test-Peer (the test client has none)."""
    inner = app.asgi_handler

    async def handler(scope, receive, send):
        peer = dict(scope.get("headers", [])).get(b"x-test-peer")
        if peer:
            scope = {**scope, "client": (peer.decode(), 40000)}
        await inner(scope, receive, send)

    app.asgi_handler = handler
    return app


async def login_starts(client: Client, *requests: tuple[str, str | None]) -> list[int]:
    """(peer, X-Forwarded-For or None) for each request, one after the other: the statuses."""
    token = await client.ensure_csrf()
    answered = []
    for peer, forwarded in requests:
        headers = {"x-csrftoken": token, "Accept": "application/json", "x-test-peer": peer}
        if forwarded is not None:
            headers["x-forwarded-for"] = forwarded
        answered.append((await client.post("/passkeys/login/options", json={}, headers=headers)).status_code)
    return answered


async def test_x_forwarded_for_is_ignored_when_no_proxy_is_trusted(make_app):
    app = with_peer(make_app(auth_rate_limit_per_minute=2))
    async with Client(app=app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        # A new "client address" with every request does not reset the limit of the peer that sent them.
        assert await login_starts(client, *[("198.51.100.7", f"203.0.113.{n}") for n in range(4)]) == [201, 201, 429, 429]
        assert await login_starts(client, ("198.51.100.8", None)) == [201]


async def test_behind_a_trusted_proxy_the_client_it_saw_is_limited(make_app):
    app = with_peer(make_app(auth_rate_limit_per_minute=2, trusted_proxies=("10.0.0.0/8",)))
    async with Client(app=app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        # The proxy appends the address it was reached from; what the client wrote stands left of it.
        assert await login_starts(client, ("10.0.0.2", "198.51.100.7"), ("10.0.0.2", "1.1.1.1, 198.51.100.7"),
                                  ("10.0.0.2", "2.2.2.2, 198.51.100.7")) == [201, 201, 429]
        # Another client behind the same proxy has a limit of its own.
        assert await login_starts(client, ("10.0.0.2", "198.51.100.8")) == [201]
        # Someone reaching the app directly cannot pose as a client behind the proxy.
        assert await login_starts(client, ("203.0.113.5", "198.51.100.9"), ("203.0.113.5", "198.51.100.10"),
                                  ("203.0.113.5", "198.51.100.11")) == [201, 201, 429]


def client_of(peer: str, *forwarded: str, trusted: tuple[str, ...] = ("10.0.0.0/8", "fd00::/8")) -> str:
    limits = rate_limit.RateLimits(counts=None, auth_per_minute=1, scan_per_minute=1,
                                   trusted_proxies=tuple(ip_network(t) for t in trusted))
    return limits.client_address({"client": (peer, 1), "headers": [(b"x-forwarded-for", f.encode()) for f in forwarded]})


def test_the_client_address_is_read_from_the_right_past_every_trusted_proxy():
    assert client_of("10.0.0.2", "198.51.100.7, 10.1.1.1") == "198.51.100.7"
    assert client_of("10.0.0.2", "6.6.6.6", "198.51.100.7") == "198.51.100.7"  # two headers read as one list
    assert client_of("10.0.0.2", "198.51.100.7:5123") == "198.51.100.7"
    assert client_of("10.0.0.2", "10.3.3.3, 10.1.1.1") == "10.3.3.3"  # only proxies of ours: the first of them
    assert client_of("10.0.0.2") == "10.0.0.2"  # the proxy's own request (a health check)
    assert client_of("::ffff:198.51.100.7") == "198.51.100.7"
    assert client_of("198.51.100.7", "10.1.1.1", trusted=()) == "198.51.100.7"


def test_an_ipv6_client_is_counted_by_its_64_block():
    assert client_of("2001:db8:1:2:aaaa::1") == client_of("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_of("fd00::1", "[2001:db8:1:3::5]:443") == "2001:db8:1:3::/64"


def test_a_trusted_proxy_that_is_no_address_stops_the_app_from_starting(settings):
    with pytest.raises(ValueError):
        create_app(settings.with_(trusted_proxies=("proxy.example.jp",)))
