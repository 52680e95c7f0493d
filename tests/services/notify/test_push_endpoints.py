"""A push subscription cannot make the server call an internal address (app/services/notify/push_endpoints.py).

By default only https endpoints on the real push services are accepted; PUSH_EXTRA_HOSTS adds exact
origins, which is how these tests reach their listeners on loopback. The rule is checked when a device
subscribes and again before every send, when the host's addresses are looked up too. Nothing here
touches the network: lookups of the real push services' names are stood in for.

Runs on both databases (TSUNAGU_TEST_DB=postgres).
"""

from __future__ import annotations

import asyncio
import os
import socket

import aiohttp
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.keyfile import b64url, new_vapid_keys
from app.main import create_app
from app.services.notify import push_delivery, push_endpoints, push_message, push_notifications, push_subscriptions
from app.services.notify.push_endpoints import PushHosts
from app.services.notify.push_notifications import Target
from app.services.notify.push_subscriptions import PushRefused
from app.services.shared import clock
from db.tables import Delivery, PushSubscription
from tests import factories
from tests.internal_listener import InternalListener
from tests.push_service import FakePushService

REAL_ENDPOINTS = [
    "https://fcm.googleapis.com/fcm/send/dGVzdC1kZXZpY2U:APA91bH",
    "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABm",
    "https://web.push.apple.com/QGx3b2xkX3NlY3JldA",
    "https://wns2-par02p.notify.windows.com/w/?token=BQYAAAB%2fXyz",
    "https://fcm.googleapis.com:443/fcm/send/explicit-port",
]
REFUSED_ENDPOINTS = {
    "http on a real push service": "http://fcm.googleapis.com/fcm/send/x",
    "a loopback address": "https://127.0.0.1/internal-admin",
    "a loopback address over http, with a port": "http://127.0.0.1:8000/internal-admin",
    "a private address": "https://10.0.0.8/x",
    "a link-local address (cloud metadata)": "https://169.254.169.254/latest/meta-data/",
    "IPv6 loopback": "https://[::1]/x",
    "localhost on a port": "https://localhost:8443/x",
    "localhost over http": "http://localhost/x",
    "localhost": "https://localhost/x",
    "a user name and password": "https://user:secret@fcm.googleapis.com/fcm/send/x",
    "a real host as user name": "https://fcm.googleapis.com@127.0.0.1/x",
    "a backslash parsers read differently": "https://fcm.googleapis.com\\@127.0.0.1/x",
    "an odd port": "https://fcm.googleapis.com:8443/fcm/send/x",
    "port 0": "https://fcm.googleapis.com:0/fcm/send/x",
    "an unknown host": "https://push.example.com/x",
    "a real name as a prefix": "https://fcm.googleapis.com.evil.example/x",
    "a name that only ends like one": "https://evilfcm.googleapis.com/x",
    "a trailing dot": "https://fcm.googleapis.com./x",
    "a decimal IP address": "https://2130706433/x",
}


def keys() -> dict[str, str]:
    """A browser's subscription keys: a P-256 point and a 16-byte auth secret."""
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {"p256dh": b64url(point), "auth": b64url(os.urandom(16))}


async def member() -> int:
    return (await factories.member("つなぐ花子")).account_id


@pytest.fixture
def signer() -> push_message.VapidSigner:
    return push_message.VapidSigner(new_vapid_keys()[0], "mailto:admin@localhost")


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


@pytest.fixture
def service():
    with FakePushService() as running:
        yield running
    assert running.errors == [], [r.error for r in running.errors]


class NoRequests:
    """An HTTP client that records any request made through it (push_delivery._post's aiohttp branch)."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def post(self, url, **kwargs):
        self.urls.append(url)
        raise AssertionError(f"requested {url}")


async def only_delivery() -> dict:
    [row] = await Delivery.select()
    return row


# --- when a device subscribes ------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", list(REFUSED_ENDPOINTS.values()), ids=list(REFUSED_ENDPOINTS))
async def test_subscribe_refuses_an_endpoint_that_is_not_a_real_push_service(endpoint):
    account = await member()
    with pytest.raises(PushRefused) as refused:
        await push_subscriptions.subscribe(account, endpoint, **keys(), device_label="Pixel")
    assert refused.value.reason == "bad_endpoint"
    assert await PushSubscription.count() == 0


@pytest.mark.parametrize("endpoint", REAL_ENDPOINTS)
async def test_subscribe_accepts_the_real_push_services(endpoint):
    account = await member()
    await push_subscriptions.subscribe(account, endpoint, **keys(), device_label="Pixel")
    assert [row["endpoint"] for row in await PushSubscription.select(PushSubscription.endpoint)] == [endpoint]


async def test_renewing_onto_an_internal_address_is_refused_and_keeps_the_old_device():
    account = await member()
    await push_subscriptions.subscribe(account, REAL_ENDPOINTS[0], **keys(), device_label="Pixel")
    with pytest.raises(PushRefused) as refused:
        await push_subscriptions.renew_subscription(account, REAL_ENDPOINTS[0], "http://127.0.0.1:8000/internal-admin", **keys())
    assert refused.value.reason == "bad_endpoint"
    assert [row["endpoint"] for row in await PushSubscription.select(PushSubscription.endpoint)] == [REAL_ENDPOINTS[0]]


def test_an_extra_origin_allows_exactly_that_scheme_host_and_port():
    hosts = PushHosts(["http://127.0.0.1:8123", "push.example.org", "https://[::1]:9443"])
    for allowed in ("http://127.0.0.1:8123/push/a", "https://push.example.org/x", "https://push.example.org:443/x",
                    "https://[::1]:9443/push/b", *REAL_ENDPOINTS):
        assert hosts.refusal(allowed) is None, allowed
    for refused in ("http://127.0.0.1:8124/push/a", "https://127.0.0.1:8123/push/a", "http://localhost:8123/push/a",
                    "http://127.0.0.2:8123/push/a", "https://sub.push.example.org/x", "http://push.example.org/x",
                    "https://push.example.org:8443/x", "http://user@127.0.0.1:8123/push/a", "http://[::1]:9443/push/b"):
        assert hosts.refusal(refused) is not None, refused


async def test_an_extra_origin_is_accepted_at_subscribe_only_when_listed():
    account = await member()
    endpoint = "http://127.0.0.1:8123/push/fake-device"
    with pytest.raises(PushRefused):
        await push_subscriptions.subscribe(account, endpoint, **keys(), device_label="Pixel")
    await push_subscriptions.subscribe(account, endpoint, **keys(), device_label="Pixel",
                                       hosts=PushHosts(["http://127.0.0.1:8123"]))
    assert await PushSubscription.count() == 1


@pytest.mark.parametrize("entry", ["ftp://push.example.org", "https://push.example.org/wpush", "user@push.example.org",
                                   "http://127.0.0.1:port", "https://push.example.org?x", "", "push example.org"])
def test_a_malformed_extra_entry_stops_the_app_from_starting(entry, settings):
    with pytest.raises(ValueError, match="PUSH_EXTRA_HOSTS"):
        PushHosts([entry])
    with pytest.raises(ValueError, match="PUSH_EXTRA_HOSTS"):
        create_app(settings.with_(push_extra_hosts=(entry,)))


@pytest.mark.parametrize(("address", "public"), [
    ("127.0.0.1", False), ("127.8.9.10", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False), ("240.0.0.1", False),
    ("255.255.255.255", False), ("::1", False), ("::", False), ("fe80::1", False), ("fe80::1%eth0", False),
    ("fc00::1", False), ("ff02::1", False), ("ff0e::1", False), ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False),
    ("2002:7f00:1::1", False),  # 6to4 around 127.0.0.1
    ("142.250.196.106", True), ("17.253.144.10", True), ("2607:f8b0:4004:c1b::5f", True), ("::ffff:142.250.196.106", True),
])
def test_only_public_addresses_count_as_public(address, public):
    assert push_endpoints.is_public(address) is public


# --- before each send --------------------------------------------------------------------------------


async def test_a_stored_endpoint_that_no_longer_passes_is_never_requested(service, http, signer):
    """A row stored before the rule, or under a setting that listed its origin then, is not called: the
    delivery fails and the device is dropped. The listed fake service still gets its message."""
    account = await member()
    good = service.device()
    hosts = PushHosts([service.origin])
    await push_subscriptions.subscribe(account, **good.subscription(), device_label="Pixel", hosts=hosts)
    async with InternalListener() as internal:
        await PushSubscription.insert(PushSubscription(account=account, endpoint=internal.url("/internal-admin"),
                                                       device_label="old row", created_at=clock.now(), **keys()))
        await push_notifications.create_notification(Target(account_ids=[account]), "テスト通知", "", "", None)
        stats = await push_delivery.run_once(http, signer, hosts=hosts)
    assert stats == push_delivery.SendStats(sent=1, failed=1)
    assert internal.connections == 0
    assert len(good.messages) == 1
    failed = await Delivery.select().where(Delivery.status == "failed").first()
    assert failed["last_error"] == "endpoint refused (scheme)" and failed["subscription"] is None
    assert [row["endpoint"] for row in await PushSubscription.select(PushSubscription.endpoint)] == [good.endpoint]


@pytest.mark.parametrize("addresses", [["127.0.0.1"], ["10.0.0.8"], ["169.254.169.254"], ["::1"], ["fe80::1"],
                                       ["142.250.196.106", "10.0.0.1"]])
async def test_a_push_service_name_that_resolves_inside_is_not_requested(monkeypatch, signer, addresses):
    async def resolve(host: str, port: int) -> list[str]:
        assert (host, port) == ("web.push.apple.com", 443)
        return addresses

    monkeypatch.setattr(push_endpoints, "resolve", resolve)
    account = await member()
    await push_subscriptions.subscribe(account, REAL_ENDPOINTS[2], **keys(), device_label="iPhone")
    await push_notifications.create_notification(Target(account_ids=[account]), "テスト通知", "", "", None)
    client = NoRequests()
    assert await push_delivery.run_once(client, signer) == push_delivery.SendStats(failed=1)
    assert client.urls == []
    delivery = await only_delivery()
    assert (delivery["status"], delivery["last_error"]) == ("failed", "address refused")
    assert await PushSubscription.count() == 1  # the name may be fixed; the device is kept


async def test_a_name_that_resolves_to_loopback_is_refused_unless_listed():
    """`localhost` through the real resolver (no network): 127.0.0.1 and ::1, refused; listed, not looked up."""
    assert await PushHosts().resolves_publicly("localhost", 443) is False
    assert await PushHosts(["https://localhost"]).refusal_to_send("https://localhost/x") is None


async def test_a_push_service_with_public_addresses_is_requested(monkeypatch, signer):
    async def resolve(host: str, port: int) -> list[str]:
        return ["142.250.196.106", "2607:f8b0:4004:c1b::5f"]

    monkeypatch.setattr(push_endpoints, "resolve", resolve)
    account = await member()
    await push_subscriptions.subscribe(account, REAL_ENDPOINTS[0], **keys(), device_label="Pixel")
    await push_notifications.create_notification(Target(account_ids=[account]), "テスト通知", "", "", None)
    client = NoRequests()
    assert await push_delivery.run_once(client, signer) == push_delivery.SendStats(retried=1)  # the stand-in raised
    assert client.urls == [REAL_ENDPOINTS[0]]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


async def test_lookups_are_shared_and_kept_for_a_while(monkeypatch):
    lookups: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        lookups.append(host)
        await asyncio.sleep(0.01)
        return ["142.250.196.106"]

    clock = Clock()
    monkeypatch.setattr(push_endpoints, "resolve", resolve)
    monkeypatch.setattr(push_endpoints, "time", clock)
    hosts = PushHosts()
    endpoints = [f"https://fcm.googleapis.com/fcm/send/{n}" for n in range(50)]
    assert await asyncio.gather(*[hosts.refusal_to_send(e) for e in endpoints]) == [None] * 50  # senders at once
    assert lookups == ["fcm.googleapis.com"]
    clock.now += push_endpoints.RESOLVE_TTL_S - 1
    assert await hosts.refusal_to_send(endpoints[0]) is None and len(lookups) == 1
    assert await hosts.refusal_to_send("https://web.push.apple.com/x") is None and len(lookups) == 2  # per host
    clock.now += 2
    assert await hosts.refusal_to_send(endpoints[0]) is None and lookups.count("fcm.googleapis.com") == 2


async def test_a_failed_lookup_is_retried_later_and_not_kept(monkeypatch, signer):
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(push_endpoints, "resolve", resolve)
    account = await member()
    await push_subscriptions.subscribe(account, REAL_ENDPOINTS[1], **keys(), device_label="Firefox")
    await push_notifications.create_notification(Target(account_ids=[account]), "テスト通知", "", "", None)
    client, hosts = NoRequests(), PushHosts()
    assert await push_delivery.run_once(client, signer, hosts=hosts) == push_delivery.SendStats(retried=1)
    assert client.urls == [] and (await only_delivery())["last_error"] == "gaierror"
    with pytest.raises(socket.gaierror):
        await hosts.refusal_to_send(REAL_ENDPOINTS[1])
    assert len(calls) == 2


@pytest.mark.parametrize("kind", ["httpx", "aiohttp"])
async def test_a_redirect_from_a_push_service_is_not_followed(signer, kind):
    async with InternalListener() as internal:
        redirect = (f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {internal.url('/internal-admin')}\r\n"
                    "Content-Length: 0\r\nConnection: close\r\n\r\n").encode()
        async with InternalListener(reply=redirect) as push_service:
            account = await member()
            hosts = PushHosts([push_service.origin])
            await push_subscriptions.subscribe(account, push_service.url("/push/device"), **keys(), device_label="Pixel",
                                               hosts=hosts)
            await push_notifications.create_notification(Target(account_ids=[account]), "テスト通知", "", "", None)
            if kind == "httpx":
                client = httpx.AsyncClient(timeout=5, follow_redirects=True)  # even a client told to follow them
            else:
                client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
            async with client:
                stats = await push_delivery.run_once(client, signer, hosts=hosts)
    assert stats == push_delivery.SendStats(failed=1)
    assert push_service.connections == 1 and internal.connections == 0
    assert (await only_delivery())["last_error"] == "HTTP 307"
