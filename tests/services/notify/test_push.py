"""Web Push: subscriptions and preferences, targeting, fan-out, and the sender against a strict fake push
service on loopback (tests/push_service.py) that verifies the VAPID JWT, decrypts every message with the
device's own keys and answers what each test tells it (201, 404, 410, 429, 500, 400).

Runs on both databases (TSUNAGU_TEST_DB=postgres). Time is controlled through `app.services.shared.clock`.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
from datetime import timedelta, timezone

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from app import push_sender
from app.keyfile import new_vapid_keys
from app.services.notify import push_delivery, push_message, push_notifications, push_subscriptions
from app.services.notify.push_endpoints import PushHosts
from app.services.notify.push_notifications import Target
from app.services.notify.push_subscriptions import Preferences, PushRefused
from db.tables import Account, Delivery, Member, Notice, Notification, PushPreference, PushSubscription
from tests import factories
from tests.push_service import Device, FakePushService, b64url, b64url_decode

UTC = timezone.utc
NO_LINE = {"line_queued": 0, "line_sending": 0, "line_sent": 0, "line_failed": 0, "line_skipped": 0}
SUBJECT = "mailto:admin@localhost"


@pytest.fixture
def service():
    with FakePushService() as running:
        yield running
    # Whatever the test told the service to answer, every request the sender made was well-formed:
    # signed for this origin, TTL and Urgency present, aes128gcm that decrypts with the device's keys.
    assert running.errors == [], [r.error for r in running.errors]


@pytest.fixture(scope="module")
def vapid_keys() -> tuple[str, str]:
    return new_vapid_keys()


@pytest.fixture
def signer(vapid_keys) -> push_message.VapidSigner:
    return push_message.VapidSigner(vapid_keys[0], SUBJECT)


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def person(name: str = "つなぐ花子", prefecture: str = "13", areas: list[int] | None = None,
                 tier: str = "basic") -> factories.membership.Registered:
    registered = await factories.member(name, home_prefecture=prefecture, area_ids=areas or [])
    if tier != "basic":
        await Member.update({Member.tier: tier}).where(Member.id == registered.member_id)
    return registered


def listed(*services: FakePushService, also: tuple[str, ...] = ()) -> PushHosts:
    """What PUSH_EXTRA_HOSTS would be to reach these fake services on loopback: nothing on loopback is
    called unless its origin is listed (app/services/notify/push_endpoints.py)."""
    return PushHosts([service.origin for service in services] + list(also))


async def subscribed(service: FakePushService, account_id: int, vapid_keys: tuple[str, str] | None = None,
                     label: str = "iPhone") -> Device:
    """A device of this account, subscribed on the fake service (with the VAPID key, when given)."""
    device = service.device(server_key=vapid_keys[1] if vapid_keys else None)
    await push_subscriptions.subscribe(account_id, **device.subscription(), device_label=label, hosts=listed(service))
    return device


async def deliveries(notification_id: int | None = None) -> list[dict]:
    query = Delivery.select().order_by(Delivery.id)
    if notification_id is not None:
        query = query.where(Delivery.notification == notification_id)
    return await query


async def news(title: str = "雪まつりのお知らせ", body: str = "2月に開催します", url: str = "/programs/1",
               **target) -> int:
    return await push_notifications.create_notification(Target(topic="news", **target), title, body, url, created_by=None)


def assert_well_formed(service: FakePushService) -> None:
    assert service.errors == [], [r.error for r in service.errors]
    for request in service.requests:
        assert request.ttl == str(push_delivery.TTL_S) and request.urgency == "normal", request


# --- subscriptions -------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", [
    "", "ftp://push.example/abc", "http://push.example.com/abc", "javascript:alert(1)", "https:///no-host", "push",
    "https://push.example.com/" + "a" * 1000,
])
async def test_subscribe_refuses_a_bad_endpoint(service, endpoint):
    account = (await person()).account_id
    keys = service.device().subscription()
    with pytest.raises(PushRefused) as refused:
        await push_subscriptions.subscribe(account, endpoint, keys["p256dh"], keys["auth"], "Pixel")
    assert refused.value.reason in ("bad_endpoint", "bad_keys")
    assert await PushSubscription.count() == 0


def _not_a_point() -> str:
    """65 bytes that look like an uncompressed P-256 point (0x04 prefix) but are not on the curve."""
    while True:
        candidate = b"\x04" + os.urandom(64)
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), candidate)
        except ValueError:
            return b64url(candidate)


@pytest.mark.parametrize("change", [
    {"p256dh": "not base64url at all!!! but long enough"},
    {"p256dh": "BAAA"},  # too short
    {"p256dh": b64url(b"\x02" + os.urandom(32))},  # a compressed point: push needs the uncompressed one
    {"p256dh": "not-a-point"},  # replaced in the test by 65 bytes off the curve
    {"auth": "abc"},  # too short
    {"auth": b64url(os.urandom(24))},  # RFC 8291: the auth secret is 16 bytes
    {"auth": "%%%%%%%%%%%%%%%%%%%%%%"},
])
async def test_subscribe_refuses_bad_keys(service, change):
    account = (await person()).account_id
    subscription = {**service.device().subscription(), **change}
    if subscription["p256dh"] == "not-a-point":
        subscription["p256dh"] = _not_a_point()
    with pytest.raises(PushRefused) as refused:
        await push_subscriptions.subscribe(account, **subscription, device_label="Pixel", hosts=listed(service))
    assert refused.value.reason == "bad_keys"
    assert await PushSubscription.count() == 0


async def test_resubscribing_updates_the_device_instead_of_adding_one(service):
    hanako, taro = (await person("花子")).account_id, (await person("太郎")).account_id
    device, hosts = service.device(), listed(service)
    first = await push_subscriptions.subscribe(hanako, **device.subscription(), device_label="iPhone", hosts=hosts)
    again = await push_subscriptions.subscribe(hanako, **device.subscription(), device_label="iPhone (ホーム画面)", hosts=hosts)
    # The browser rotates keys on re-subscribe; the same phone may also change hands.
    rotated = {**service.device().subscription(), "endpoint": device.endpoint}
    moved = await push_subscriptions.subscribe(taro, **rotated, device_label="共用iPad", hosts=hosts)
    assert first == again == moved
    rows = await PushSubscription.select()
    assert len(rows) == 1
    assert rows[0]["account"] == taro and rows[0]["p256dh"] == rotated["p256dh"] and rows[0]["auth"] == rotated["auth"]
    assert rows[0]["device_label"] == "共用iPad"
    second_device = await push_subscriptions.subscribe(hanako, **service.device().subscription(), device_label="x" * 100,
                                                       hosts=hosts)
    assert second_device != first
    assert (await PushSubscription.select().where(PushSubscription.id == second_device).first())["device_label"] == "x" * 60


async def test_concurrent_subscribes_of_one_endpoint_make_one_row(service):
    account = (await person()).account_id
    subscription = service.device().subscription()
    ids = await asyncio.gather(*[push_subscriptions.subscribe(account, **subscription, device_label="Pixel", hosts=listed(service))
                                 for _ in range(5)])
    assert len(set(ids)) == 1
    assert await PushSubscription.count() == 1


async def test_unsubscribe_only_removes_ones_own_device(service):
    hanako, taro = (await person("花子")).account_id, (await person("太郎")).account_id
    device = await subscribed(service, hanako)
    assert await push_subscriptions.unsubscribe(taro, device.endpoint) is False
    assert await PushSubscription.count() == 1
    assert await push_subscriptions.unsubscribe(hanako, device.endpoint) is True
    assert await push_subscriptions.unsubscribe(hanako, device.endpoint) is False
    assert await PushSubscription.count() == 0


async def test_a_renewed_subscription_keeps_the_device_label_and_replaces_the_old_one(service):
    hanako = (await person("花子")).account_id
    old = await subscribed(service, hanako, label="iPhone")
    new = service.device().subscription()
    renewed = await push_subscriptions.renew_subscription(hanako, old.endpoint, **new, hosts=listed(service))
    rows = await PushSubscription.select()
    assert [(row["id"], row["endpoint"], row["device_label"]) for row in rows] == [(renewed, new["endpoint"], "iPhone")]


async def test_only_a_device_of_ones_own_can_be_renewed(service):
    hanako, taro = (await person("花子")).account_id, (await person("太郎")).account_id
    hanakos = await subscribed(service, hanako)
    for account, old_endpoint in ((taro, hanakos.endpoint), (hanako, "https://push.example.com/never-seen")):
        with pytest.raises(PushRefused) as refused:
            await push_subscriptions.renew_subscription(account, old_endpoint, **service.device().subscription(),
                                                        hosts=listed(service))
        assert refused.value.reason == "not_found"
    assert [row["endpoint"] for row in await PushSubscription.select()] == [hanakos.endpoint]


async def test_a_member_sees_only_their_own_devices_oldest_first(service, frozen):
    hanako, taro = (await person("花子")).account_id, (await person("太郎")).account_id
    assert await push_subscriptions.has_devices(hanako) is False
    await subscribed(service, hanako, label="iPhone")
    frozen.advance(seconds=1)
    await subscribed(service, taro, label="Pixel")
    await subscribed(service, hanako, label="iPad")
    assert [device["device_label"] for device in await push_subscriptions.list_devices(hanako)] == ["iPhone", "iPad"]
    assert await push_subscriptions.has_devices(hanako) is True


# --- preferences ---------------------------------------------------------------------------------


async def test_preferences_default_then_saved_and_updated():
    account = (await person()).account_id
    assert await push_subscriptions.preferences(account) == Preferences(programs="followed", events=True, surveys=True, news=True)
    await push_subscriptions.save_preferences(account, Preferences(programs="all", events=False, surveys=True, news=False))
    assert await push_subscriptions.preferences(account) == Preferences("all", False, True, False)
    await push_subscriptions.save_preferences(account, Preferences(programs="none", events=True, surveys=False, news=True))
    assert await push_subscriptions.preferences(account) == Preferences("none", True, False, True)
    assert await PushPreference.count() == 1
    with pytest.raises(PushRefused):
        await push_subscriptions.save_preferences(account, Preferences(programs="sometimes"))
    assert await push_subscriptions.preferences(account) == Preferences("none", True, False, True)


# --- targeting -----------------------------------------------------------------------------------


async def test_programs_reach_followers_of_the_area_and_those_who_chose_all(service):
    yufutsu, tarumae = await factories.area("勇払", "yufutsu"), await factories.area("樽前", "tarumae")
    follower = await person("勇払ファン", areas=[yufutsu])
    other = await person("樽前ファン", areas=[tarumae])
    everything = await person("全部ほしい")
    muted = await person("勇払だが通知なし", areas=[yufutsu])
    await push_subscriptions.save_preferences(everything.account_id, Preferences(programs="all"))
    await push_subscriptions.save_preferences(muted.account_id, Preferences(programs="none"))
    for account, count in ((follower.account_id, 2), (other.account_id, 1), (everything.account_id, 1),
                           (muted.account_id, 1)):
        for _ in range(count):
            await subscribed(service, account)

    programs = Target(topic="programs", area_ids=[yufutsu])
    # The inbox gets it whatever the push preference; push goes to the devices of those who want it.
    assert sorted(await push_notifications.recipients(programs)) == sorted([follower.account_id, everything.account_id,
                                                                muted.account_id])
    assert await push_notifications.reach(programs) == (3, 3, 0, 0)  # follower's 2 devices + everything's 1; muted: none
    # "All programs" is about programs: an event in the area still goes to its followers only.
    events = Target(topic="events", area_ids=[yufutsu])
    assert sorted(await push_notifications.recipients(events)) == sorted([follower.account_id, muted.account_id])
    assert await push_notifications.reach(events) == (2, 3, 0, 0)
    # No area: everyone active; programs then go to everyone not muted.
    assert await push_notifications.reach(Target(topic="programs")) == (4, 4, 0, 0)


async def test_tier_and_home_prefecture_narrow_and_combine(service):
    tokyo_basic = await person("東京ベーシック", prefecture="13")
    tokyo_premium = await person("東京プレミアム", prefecture="13", tier="premium")
    hokkaido_premium = await person("北海道プレミアム", prefecture="01", tier="premium")
    gone = await person("退会済み", prefecture="13", tier="premium")
    await Account.update({Account.status: "deleted"}).where(Account.id == gone.account_id)
    staff = await factories.staff_account()  # not a member: only a recipient when named (desk notifications)
    for account in (tokyo_basic.account_id, tokyo_premium.account_id, hokkaido_premium.account_id, gone.account_id, staff):
        await subscribed(service, account)

    def accounts(*people) -> list[int]:
        return sorted(p.account_id for p in people)

    assert sorted(await push_notifications.recipients(Target())) == accounts(tokyo_basic, tokyo_premium, hokkaido_premium)
    assert sorted(await push_notifications.recipients(Target(tiers=["premium"]))) == accounts(tokyo_premium, hokkaido_premium)
    assert sorted(await push_notifications.recipients(Target(prefectures=["13"]))) == accounts(tokyo_basic, tokyo_premium)
    assert sorted(await push_notifications.recipients(Target(tiers=["premium"], prefectures=["13"]))) == accounts(tokyo_premium)
    assert sorted(await push_notifications.recipients(Target(prefectures=["01", "13"], tiers=["basic", "premium"]))) == accounts(
        tokyo_basic, tokyo_premium, hokkaido_premium)
    assert await push_notifications.recipients(Target(prefectures=["47"])) == []
    explicit = Target(account_ids=[tokyo_basic.account_id, gone.account_id, staff])
    assert await push_notifications.recipients(explicit) == [tokyo_basic.account_id, staff]
    assert await push_notifications.recipients(Target(account_ids=[staff], tiers=["basic"])) == []
    assert await push_notifications.recipients(Target(account_ids=[])) == []
    assert await push_notifications.reach(Target(tiers=["premium"])) == (2, 2, 0, 0)
    # A topic someone turned off: still in the inbox, no push.
    await push_subscriptions.save_preferences(tokyo_premium.account_id, Preferences(news=False))
    assert await push_notifications.reach(Target(topic="news", tiers=["premium"])) == (2, 1, 0, 0)
    assert await push_notifications.reach(Target(topic="events", tiers=["premium"])) == (2, 2, 0, 0)


# --- fan-out -------------------------------------------------------------------------------------


async def test_fan_out_makes_one_notice_per_person_and_one_delivery_per_device_once(service, frozen):
    people = [await person(f"会員{i}") for i in range(3)]
    devices = {p.account_id: [await subscribed(service, p.account_id) for _ in range(i + 1)] for i, p in enumerate(people)}
    notification = await news()
    assert await push_notifications.fan_out_due() == 1
    assert await push_notifications.fan_out_due() == 0  # run twice: nothing more
    # Two fan-outs at once (two senders waking together) add nothing either.
    again = await news("二通目")
    assert sum(await asyncio.gather(*[push_notifications.fan_out_due() for _ in range(3)])) == 1

    for notification_id in (notification, again):
        rows = await deliveries(notification_id)
        assert len(rows) == 6 and len({r["subscription"] for r in rows}) == 6
        assert all(r["status"] == "queued" and r["attempts"] == 0 for r in rows)
    notices = await Notice.select().order_by(Notice.id)
    assert sorted(n["account"] for n in notices) == sorted([p.account_id for p in people] * 2)
    assert {n["title"] for n in notices} == {"雪まつりのお知らせ", "二通目"}
    row = await Notification.select().where(Notification.id == notification).first()
    assert row["status"] == "fanned_out" and row["recipients"] == 3
    assert sum(len(d) for d in devices.values()) == 6


async def test_fan_out_waits_for_send_at(service, frozen, http, signer):
    account = (await person()).account_id
    device = await subscribed(service, account)
    later = frozen.at + timedelta(hours=2)
    notification = await push_notifications.create_notification(Target(topic="news"), "明日の朝市", "7時から", "/", None, send_at=later)
    assert await push_delivery.run_once(http, signer, hosts=listed(service)) == push_delivery.SendStats()
    assert await deliveries() == [] and await Notice.count() == 0
    frozen.advance(hours=1, minutes=59, seconds=59)
    assert await push_notifications.fan_out_due() == 0
    frozen.advance(seconds=1)
    assert (await push_delivery.run_once(http, signer, hosts=listed(service))).sent == 1
    assert [m["notification"] for m in device.messages.values()] == [notification]


# --- sending -------------------------------------------------------------------------------------


async def test_201_marks_sent_and_the_device_decrypts_the_payload(service, frozen, http, signer, vapid_keys):
    hanako = (await person("花子")).account_id
    phone, tablet = await subscribed(service, hanako, vapid_keys), await subscribed(service, hanako, vapid_keys)
    notification = await news("雪まつり", "2月10日から会場は勇払", "/programs/42")
    stats = await push_delivery.run_once(http, signer, hosts=listed(service))
    assert stats == push_delivery.SendStats(sent=2)

    rows = await deliveries(notification)
    assert [r["status"] for r in rows] == ["sent", "sent"]
    assert all(r["sent_at"] == frozen.at and r["claimed_until"] is None and r["attempts"] == 1 for r in rows)
    by_subscription = {r["subscription"]: r["id"] for r in rows}
    for device in (phone, tablet):
        sub = await PushSubscription.select().where(PushSubscription.endpoint == device.endpoint).first()
        assert sub["last_success_at"] == frozen.at
        delivery_id = by_subscription[sub["id"]]
        # Topic = the delivery: what a resend after a crash would replace.
        assert device.messages == {f"d{delivery_id}": {
            "id": delivery_id, "notification": notification, "title": "雪まつり", "body": "2月10日から会場は勇払",
            "url": "/programs/42", "tag": f"n{notification}"}}
    assert_well_formed(service)
    assert len(service.requests) == 2
    assert await push_delivery.run_once(http, signer, hosts=listed(service)) == push_delivery.SendStats()  # nothing is sent twice
    assert len(service.requests) == 2


def test_each_message_is_encrypted_with_a_new_key_and_salt_and_decrypts_with_http_ece(service):
    """`push_message.encrypt` (http_ece, as pywebpush encodes): the reference decoder reads it, and two
    messages to one device share neither the ephemeral key nor the salt (RFC 8291 § 3.1)."""
    import http_ece

    device = service.device()
    payload = json.dumps({"title": "雪まつり", "body": "い" * 500}, ensure_ascii=False).encode()
    first, second = push_message.encrypt(device.subscription(), payload), push_message.encrypt(device.subscription(), payload)
    for body in (first, second):
        # RFC 8188 header: salt (16), record size (4), key id length (1), key id = the sender's P-256 point (65).
        assert int.from_bytes(body[16:20], "big") == push_message.RECORD_SIZE and body[20] == 65 and body[21] == 0x04
        assert len(body) == 21 + 65 + len(payload) + 1 + 16  # one record: padding delimiter and GCM tag
        assert http_ece.decrypt(body, private_key=device.private_key, auth_secret=device.auth_secret,
                                version="aes128gcm") == payload
    assert first[:16] != second[:16] and first[21:86] != second[21:86]
    with pytest.raises(ValueError):
        push_message.encrypt(device.subscription(), b"x" * push_message.RECORD_SIZE)


async def test_a_notification_without_url_opens_the_inbox(service, http, signer):
    device = await subscribed(service, (await person()).account_id)
    await news(url="")
    await push_delivery.run_once(http, signer, hosts=listed(service))
    assert [m["url"] for m in device.messages.values()] == ["/inbox"]


@pytest.mark.parametrize("status", [404, 410])
async def test_404_and_410_delete_the_subscription(service, http, signer, status):
    account = (await person()).account_id
    gone, alive = await subscribed(service, account), await subscribed(service, account)
    service.answer(gone, status)
    notification = await news()
    assert await push_delivery.run_once(http, signer, hosts=listed(service)) == push_delivery.SendStats(sent=1, expired=1)
    assert [r["endpoint"] for r in await PushSubscription.select()] == [alive.endpoint]
    rows = {r["status"]: r for r in await deliveries(notification)}
    assert set(rows) == {"sent", "expired"}
    assert rows["expired"]["last_error"] == f"HTTP {status}" and rows["expired"]["subscription"] is None
    assert gone.messages == {} and len(alive.messages) == 1
    # The next notification is not even queued for the gone device.
    following = await news("次のお知らせ")
    await push_delivery.run_once(http, signer, hosts=listed(service))
    assert len(await deliveries(following)) == 1
    assert len(service.requests_for(gone)) == 1
    assert_well_formed(service)


async def test_429_with_retry_after_retries_that_many_seconds_later(service, frozen, http, signer):
    device = await subscribed(service, (await person()).account_id)
    service.answer(device, 429, 201, retry_after="30")
    notification = await news()
    start = frozen.at
    assert await push_delivery.run_once(http, signer, hosts=listed(service)) == push_delivery.SendStats(retried=1)
    [row] = await deliveries(notification)
    assert row["status"] == "queued" and row["attempts"] == 1 and row["last_error"] == "HTTP 429"
    assert row["next_attempt_at"] == start + timedelta(seconds=30) and row["claimed_until"] is None
    frozen.advance(seconds=29)
    assert await push_delivery.run_once(http, signer, hosts=listed(service)) == push_delivery.SendStats()
    assert len(service.requests_for(device)) == 1
    frozen.advance(seconds=1)
    assert await push_delivery.run_once(http, signer, hosts=listed(service)) == push_delivery.SendStats(sent=1)
    [row] = await deliveries(notification)
    assert row["status"] == "sent" and row["attempts"] == 2
    assert len(device.messages) == 1
    assert_well_formed(service)


async def test_retry_after_as_an_http_date_is_honoured(service, frozen, http, signer):
    from email.utils import format_datetime

    device = await subscribed(service, (await person()).account_id)
    service.answer(device, 503, retry_after=format_datetime(frozen.at + timedelta(seconds=90), usegmt=True))
    await news()
    await push_delivery.run_once(http, signer, hosts=listed(service))
    [row] = await deliveries()
    assert row["status"] == "queued" and row["next_attempt_at"] == frozen.at + timedelta(seconds=90)


def test_backoff_doubles_from_30_seconds_and_is_capped():
    assert [push_delivery.backoff(n, None).total_seconds() for n in range(1, 9)] == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert push_delivery.backoff(1, "7").total_seconds() == 7
    assert push_delivery.backoff(4, " 120 ").total_seconds() == 120
    assert push_delivery.backoff(1, "999999").total_seconds() == 3600
    assert push_delivery.backoff(2, "soon").total_seconds() == 60  # unreadable: our own backoff


async def test_500_backs_off_then_fails_after_max_attempts(service, frozen, http, signer):
    device = await subscribed(service, (await person()).account_id)
    service.answer(device, 500)
    notification = await news()
    for attempt in range(1, push_delivery.MAX_ATTEMPTS):
        at = frozen.at
        assert await push_delivery.run_once(http, signer, hosts=listed(service)) == push_delivery.SendStats(retried=1)
        [row] = await deliveries(notification)
        assert (row["status"], row["attempts"], row["last_error"]) == ("queued", attempt, "HTTP 500")
        assert row["next_attempt_at"] == at + push_delivery.backoff(attempt, None)
        frozen.advance(seconds=push_delivery.backoff(attempt, None).total_seconds() - 1)
        assert await push_delivery.run_once(http, signer, hosts=listed(service)) == push_delivery.SendStats()  # not before its time
        frozen.advance(seconds=1)
    assert await push_delivery.run_once(http, signer, hosts=listed(service)) == push_delivery.SendStats(failed=1)
    [row] = await deliveries(notification)
    assert (row["status"], row["attempts"], row["last_error"]) == ("failed", push_delivery.MAX_ATTEMPTS, "HTTP 500")
    frozen.advance(hours=2)
    assert await push_delivery.run_once(http, signer, hosts=listed(service)) == push_delivery.SendStats()
    assert len(service.requests_for(device)) == push_delivery.MAX_ATTEMPTS
    assert await PushSubscription.count() == 1  # a failing push service is not a gone device
    assert_well_formed(service)


@pytest.mark.parametrize("status", [400, 403, 413])
async def test_a_refused_message_fails_at_once(service, http, signer, status):
    device = await subscribed(service, (await person()).account_id)
    service.answer(device, status)
    notification = await news()
    assert await push_delivery.run_once(http, signer, hosts=listed(service)) == push_delivery.SendStats(failed=1)
    [row] = await deliveries(notification)
    assert (row["status"], row["attempts"], row["last_error"]) == ("failed", 1, f"HTTP {status}")
    assert len(service.requests_for(device)) == 1 and await PushSubscription.count() == 1


async def test_an_unreachable_push_service_is_retried(service, frozen, http, signer):
    from tests.mailbox import free_port

    account = (await person()).account_id
    nowhere = service.device().subscription()
    port = free_port()
    nowhere["endpoint"] = f"http://127.0.0.1:{port}/push/nothing-listens-here"
    hosts = listed(also=(f"http://127.0.0.1:{port}",))
    await push_subscriptions.subscribe(account, **nowhere, device_label="Pixel", hosts=hosts)
    notification = await news()
    assert await push_delivery.run_once(http, signer, hosts=hosts) == push_delivery.SendStats(retried=1)
    [row] = await deliveries(notification)
    assert row["status"] == "queued" and row["last_error"] == "ConnectError"
    assert row["next_attempt_at"] == frozen.at + timedelta(seconds=30)


async def test_a_device_unsubscribed_after_the_fan_out_is_not_sent_to(service, http, signer):
    account = (await person()).account_id
    device = await subscribed(service, account)
    notification = await news()
    await push_notifications.fan_out_due()
    await push_subscriptions.unsubscribe(account, device.endpoint)
    assert await push_delivery.run_once(http, signer, hosts=listed(service)) == push_delivery.SendStats(expired=1)
    [row] = await deliveries(notification)
    assert (row["status"], row["last_error"]) == ("expired", "unsubscribed")
    assert service.requests == []


async def test_the_largest_allowed_notification_fits_the_push_service(service, http, signer):
    device = await subscribed(service, (await person()).account_id)
    title, body = "あ" * 120, "い" * 500
    url = "/" + "u" * 499
    await push_notifications.create_notification(Target(), title, body, url, None)
    assert await push_delivery.run_once(http, signer, hosts=listed(service)) == push_delivery.SendStats(sent=1)
    [message] = device.messages.values()
    assert (message["title"], message["body"], message["url"]) == (title, body, url)
    assert_well_formed(service)  # the fake service refuses bodies over 4096 bytes


@pytest.mark.parametrize(("title", "body", "url", "reason"), [
    ("", "本文", "/", "title_missing"),
    ("   ", "本文", "/", "title_missing"),
    ("あ" * 121, "", "/", "too_long"),
    ("題", "い" * 501, "/", "too_long"),
    ("題", "", "/" + "u" * 500, "too_long"),  # the column holds 500 characters
    ("題", "", "/" + "u" * 3000, "too_long"),  # and the payload must stay under MAX_PAYLOAD_BYTES
])
async def test_create_notification_refuses_what_cannot_be_sent(title, body, url, reason):
    with pytest.raises(PushRefused) as refused:
        await push_notifications.create_notification(Target(), title, body, url, None)
    assert refused.value.reason == reason
    assert await Notification.count() == 0


async def test_notification_stats_count_every_outcome(service, http, signer):
    account = (await person()).account_id
    ok, ok2, gone, refused, busy = [await subscribed(service, account) for _ in range(5)]
    service.answer(gone, 410)
    service.answer(refused, 400)
    service.answer(busy, 500)
    notification = await news()
    await push_notifications.fan_out_due()
    assert await push_notifications.notification_stats(notification) == {
        "queued": 5, "sending": 0, "pushing": 0, "sent": 0, "failed": 0, "expired": 0, **NO_LINE}
    await push_delivery.run_once(http, signer, hosts=listed(service))
    assert await push_notifications.notification_stats(notification) == {
        "queued": 1, "sending": 0, "pushing": 0, "sent": 2, "failed": 1, "expired": 1, **NO_LINE}
    assert await push_notifications.notification_stats(notification + 1000) == {"queued": 0, "sending": 0, "pushing": 0, "sent": 0, "failed": 0,
                                                                  "expired": 0, **NO_LINE}


async def test_the_record_lists_the_newest_notifications_with_what_is_still_waiting_but_no_tests(service):
    staff = await factories.staff_account("事務局 佐藤")
    account = (await person()).account_id
    await subscribed(service, account)
    older = await push_notifications.create_notification(Target(topic="news"), "古いお知らせ", "", "", created_by=staff)
    await push_notifications.create_notification(Target(topic="test", account_ids=[account]), "テスト", "", "", created_by=account)
    newer = await push_notifications.create_notification(Target(topic="events"), "交流会", "", "", created_by=None)
    await push_notifications.fan_out_due()
    rows = await push_notifications.recent_notifications(30)
    assert [(row["id"], row["author"], row["waiting"]) for row in rows] == [(newer, None, 1), (older, "事務局 佐藤", 1)]
    assert rows[0]["counts"] == {"queued": 1, "sending": 0, "pushing": 0, "sent": 0, "failed": 0, "expired": 0, **NO_LINE}
    assert [row["id"] for row in await push_notifications.recent_notifications(1)] == [newer]


# --- sharing the work ----------------------------------------------------------------------------


async def test_claims_never_overlap_and_a_lapsed_lease_is_taken_over(service, frozen):
    account = (await person()).account_id
    for _ in range(10):
        await subscribed(service, account)
    await news()
    await push_notifications.fan_out_due()
    first, second, third = await asyncio.gather(*[push_delivery.claim(frozen.at, 4) for _ in range(3)])
    taken = first + second + third
    # Claims at once queue (SQLite) or skip each other's rows (PostgreSQL): none comes back empty-handed
    # while work is left, which would end that sender's round early.
    assert len(taken) == len(set(taken)) == 10 and sorted(map(len, (first, second, third))) == [2, 4, 4]
    assert await push_delivery.claim(frozen.at, 100) == []
    assert await push_delivery.claim(frozen.at + push_delivery.LEASE, 100) == []  # leases still held
    later = frozen.at + push_delivery.LEASE + timedelta(seconds=1)
    assert sorted(await push_delivery.claim(later, 100)) == sorted(taken)  # the sender died: taken over
    assert {r["attempts"] for r in await deliveries()} == {2}


async def test_two_senders_at_once_send_each_message_once(service, http, vapid_keys):
    accounts = [(await person(f"会員{i}")).account_id for i in range(4)]
    devices = [await subscribed(service, a) for a in accounts for _ in range(10)]
    await news()
    first, second = push_message.VapidSigner(vapid_keys[0], SUBJECT), push_message.VapidSigner(vapid_keys[0], SUBJECT)
    results = await asyncio.gather(push_delivery.run_once(http, first, concurrency=8, hosts=listed(service)),
                                   push_delivery.run_once(http, second, concurrency=8, hosts=listed(service)))
    assert sum(r.sent for r in results) == 40
    assert all(len(service.requests_for(d)) == 1 and len(d.messages) == 1 for d in devices)
    assert_well_formed(service)


async def test_a_sender_that_cannot_record_outcomes_stops_sending(service, http, signer, monkeypatch):
    """Outcomes are written in the background; when that fails the sender stops instead of sending
    messages whose outcome nobody will write. What it requested is settled as interrupted after the lease,
    what it had not requested yet is given back to the queue."""
    accounts = [(await person(f"会員{i}")).account_id for i in range(4)]
    for account in accounts:
        for _ in range(50):
            await subscribed(service, account)

    async def broken(batch, stats):
        raise RuntimeError("database gone")

    monkeypatch.setattr(push_delivery, "_record", broken)
    service.delay = 0.005  # 200 messages two at a time take longer than the recorder's first write
    await news()
    with pytest.raises(RuntimeError, match="database gone"):
        await push_delivery.run_once(http, signer, concurrency=2, hosts=listed(service))
    statuses = [r["status"] for r in await deliveries()]
    assert 0 < len(service.requests) < 200
    assert statuses.count("pushing") == len(service.requests)
    assert statuses.count("queued") == 200 - len(service.requests)
    assert_well_formed(service)


async def test_a_sampling_push_service_still_decrypts_every_message_after_the_run(http, signer, monkeypatch):
    """The benchmark's push service decrypts only every Nth message before answering; `verify()` decrypts
    the rest afterwards and lists a body that does not decrypt as an error, as the strict service would."""
    with FakePushService(decrypt_every=10, keep_payloads=False) as sampled:
        account = (await person()).account_id
        devices = [await subscribed(sampled, account) for _ in range(5)]
        real_encrypt = push_message.encrypt

        def one_broken(subscription, payload):
            body = real_encrypt(subscription, payload)
            return body[:-1] + bytes([body[-1] ^ 1]) if subscription["endpoint"] == devices[0].endpoint else body

        monkeypatch.setattr(push_message, "encrypt", one_broken)
        await news()
        assert await push_delivery.run_once(http, signer, hosts=listed(sampled)) == push_delivery.SendStats(sent=5)  # answered before decryption
        assert (sampled.stats()["decrypted"], sampled.stats()["awaiting_decryption"]) == (0, 5)
        held = sampled.verify()
        assert (held["decrypted"], held["awaiting_decryption"], held["errors"]) == (4, 0, 1)
        assert sampled.errors[0].device == devices[0].id and "verification pass" in sampled.errors[0].error
    with pytest.raises(ValueError):
        FakePushService(decrypt_every=10)  # a sampled service keeps topics only


async def test_a_round_cancelled_mid_send_ends_at_once_and_keeps_what_was_sent(http, signer):
    """What EmbeddedSender.stop() does to a round in progress: the round ends without waiting for its work,
    the outcomes already in are written, what was marked but not requested goes back to the queue, what was
    claimed but not marked stays leased for a later round, and only the requests in flight stay 'pushing'."""
    with FakePushService(delay=0.02) as slow:
        accounts = [(await person(f"会員{i}")).account_id for i in range(2)]
        for account in accounts:
            for _ in range(30):
                await subscribed(slow, account)
        await news()
        round_ = asyncio.create_task(push_delivery.run_once(http, signer, concurrency=2, hosts=listed(slow)))
        await asyncio.wait_for(asyncio.to_thread(slow.when_delivered(6).wait, 5), 10)
        round_.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(round_, 5)
        statuses = [r["status"] for r in await deliveries()]
        assert len(statuses) == 60 and set(statuses) <= {"sent", "queued", "sending", "pushing"}
        assert statuses.count("queued") > 0 and statuses.count("pushing") <= 2
        assert 0 < statuses.count("sent") <= slow.delivered < 60
        assert slow.errors == []


# --- VAPID ---------------------------------------------------------------------------------------


@pytest.fixture
def signatures(monkeypatch) -> list[dict]:
    """Every claims dict given to py_vapid's signer, checked to be unchanged after signing."""
    made: list[dict] = []
    original = Vapid02.sign

    def counting(self, claims, crypto_key=None):
        before = copy.deepcopy(claims)
        result = original(self, claims, crypto_key)
        assert claims == before, "py_vapid changed the claims it was given"
        made.append(claims)
        return result

    monkeypatch.setattr(Vapid02, "sign", counting)
    return made


def jwt_claims(authorization: str) -> dict:
    token = authorization.split("t=", 1)[1].split(",", 1)[0]
    return json.loads(b64url_decode(token.split(".")[1]))


async def test_vapid_header_is_signed_once_per_origin_and_reused(service, http, signer, signatures):
    with FakePushService() as elsewhere:  # a second push service: another origin, another header
        account = (await person()).account_id
        here = [await subscribed(service, account) for _ in range(3)]
        there = [await subscribed(elsewhere, account) for _ in range(3)]
        await news("一通目")
        assert (await push_delivery.run_once(http, signer, hosts=listed(service, elsewhere))).sent == 6
        await news("二通目")
        assert (await push_delivery.run_once(http, signer, hosts=listed(service, elsewhere))).sent == 6
        assert sorted(c["aud"] for c in signatures) == sorted([service.origin, elsewhere.origin])
        for fake, devices in ((service, here), (elsewhere, there)):
            headers = {r.authorization for r in fake.requests}
            assert len(headers) == 1 and fake.token_checks == 1
            claims = jwt_claims(headers.pop())
            assert claims["aud"] == fake.origin and claims["sub"] == SUBJECT
            assert all(len(d.messages) == 2 for d in devices)
            assert_well_formed(fake)


async def test_vapid_header_is_renewed_near_its_expiry(signer, signatures):
    endpoint = "https://fcm.googleapis.com/fcm/send/abc"
    start = 1_900_000_000.0
    header = signer.authorization(endpoint, now_s=start)
    claims = jwt_claims(header)
    assert claims == {"aud": "https://fcm.googleapis.com", "exp": int(start) + push_message.VAPID_LIFETIME_S, "sub": SUBJECT}
    assert push_message.VAPID_LIFETIME_S <= 24 * 3600
    renew_at = start + push_message.VAPID_LIFETIME_S - push_message.VAPID_RENEW_BEFORE_S
    assert signer.authorization("https://fcm.googleapis.com/fcm/send/other", now_s=renew_at - 1) == header
    assert len(signatures) == 1
    renewed = signer.authorization(endpoint, now_s=renew_at)
    assert renewed != header and jwt_claims(renewed)["exp"] == int(renew_at) + push_message.VAPID_LIFETIME_S
    assert len(signatures) == 2
    assert signer.authorization(endpoint, now_s=renew_at + 60) == renewed
    # Ports are part of the origin.
    signer.authorization("https://push.example:8443/x", now_s=start)
    assert [c["aud"] for c in signatures][-1] == "https://push.example:8443"


def test_pywebpush_changes_a_claims_dict_in_place_which_is_why_we_do_not_use_it(vapid_keys):
    """The reason for `VapidSigner`: pywebpush's webpush() writes aud/exp into the dict it is given, so a
    dict kept across messages would carry the first origin's aud to every other push service."""
    from pywebpush import webpush

    claims = {"sub": SUBJECT}
    device = FakePushService().device()  # not started: the request below is never sent
    subscription = {"endpoint": device.endpoint, "keys": {"p256dh": device.p256dh, "auth": device.auth}}
    try:
        webpush(subscription, "x", vapid_private_key=vapid_keys[0], vapid_claims=claims, timeout=0.001)
    except Exception:  # noqa: BLE001 - nothing listens there; only the claims matter
        pass
    assert "aud" in claims  # mutated in place


# --- the sender that runs outside the request ------------------------------------------------------


async def test_the_embedded_sender_delivers_when_woken(service, settings):
    device = await subscribed(service, (await person()).account_id, (settings.vapid_private_key, settings.vapid_public_key))
    sender = push_sender.EmbeddedSender(settings.with_(push_extra_hosts=(service.origin,)))
    await sender.start()
    try:
        await news()
        sender.wake()
        for _ in range(200):  # the service holds the message before the sender records the 201: wait for both
            if device.messages and [r["status"] for r in await deliveries()] == ["sent"]:
                break
            await asyncio.sleep(0.025)
    finally:
        await sender.stop()
    assert len(device.messages) == 1
    assert [r["status"] for r in await deliveries()] == ["sent"]
    assert_well_formed(service)


async def test_push_round_job_reports_its_outcome(service, http, signer, settings):
    device = await subscribed(service, (await person()).account_id)
    service.answer(device, 201)
    await news()
    figures = await push_sender.push_round({"client": http, "signer": signer,
                                            "settings": settings.with_(push_extra_hosts=(service.origin,))})
    # The round's other steps (surveys, mail) add figures of their own.
    assert {"sent": 1, "retried": 0, "failed": 0, "expired": 0, "mail_sent": 0}.items() <= figures.items()


async def test_a_wake_during_a_round_is_not_lost(service, settings, monkeypatch):
    """A notification made while the sender is in the middle of a round must start another round at once,
    not wait for the idle wake-up."""
    device = await subscribed(service, (await person()).account_id)
    in_round, release = asyncio.Event(), asyncio.Event()
    real_run_once = push_delivery.run_once

    async def first_round_waits(*args, **kwargs):
        stats = await real_run_once(*args, **kwargs)
        if not in_round.is_set():  # the first round has done its queries and is about to end
            in_round.set()
            await release.wait()
        return stats

    monkeypatch.setattr(push_delivery, "run_once", first_round_waits)
    monkeypatch.setattr(push_sender, "IDLE_WAKE_S", 30.0)
    sender = push_sender.EmbeddedSender(settings.with_(push_extra_hosts=(service.origin,)))
    await sender.start()
    try:
        await asyncio.wait_for(in_round.wait(), 5)
        await news()
        sender.wake()  # during the round
        release.set()
        for _ in range(200):
            if [r["status"] for r in await deliveries()] == ["sent"]:
                break
            await asyncio.sleep(0.025)
    finally:
        await sender.stop()
    assert len(device.messages) == 1 and [r["status"] for r in await deliveries()] == ["sent"]


async def test_the_sender_also_works_with_pywebpushs_aiohttp_client(service, frozen, signer):
    """`send_claimed` takes an aiohttp.ClientSession as well as an httpx.AsyncClient (see bench/README.md)."""
    import aiohttp

    from tests.mailbox import free_port

    account = (await person()).account_id
    ok, gone, busy, refused = [await subscribed(service, account) for _ in range(4)]
    service.answer(gone, 410)
    service.answer(busy, 429, retry_after="45")
    service.answer(refused, 400)
    port = free_port()
    nowhere = {**service.device().subscription(), "endpoint": f"http://127.0.0.1:{port}/push/none"}
    hosts = listed(service, also=(f"http://127.0.0.1:{port}",))
    await push_subscriptions.subscribe(account, **nowhere, device_label="Pixel", hosts=hosts)
    notification = await news()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        stats = await push_delivery.run_once(session, signer, hosts=hosts)
    assert stats == push_delivery.SendStats(sent=1, retried=2, failed=1, expired=1)
    rows = {r["last_error"]: r for r in await deliveries(notification)}
    assert rows["HTTP 429"]["next_attempt_at"] == frozen.at + timedelta(seconds=45)
    assert rows["ClientConnectorError"]["status"] == "queued"
    assert rows["HTTP 400"]["status"] == "failed" and rows["HTTP 410"]["status"] == "expired"
    assert len(ok.messages) == 1 and await PushSubscription.count() == 4
    assert_well_formed(service)


async def test_audiences_beyond_the_parameter_limit_of_postgresql(service):
    """asyncpg refuses a query with more than 32,767 parameters: a fan-out to 40,000 people must not be one
    `IN (...)` of 40,000 ids."""
    member = await person()
    device = await subscribed(service, member.account_id)
    crowd = list(range(10_000_000, 10_040_000)) + [member.account_id]  # no such accounts but one
    assert await push_notifications.recipients(Target(account_ids=crowd)) == [member.account_id]
    wanting = await push_notifications._wanting(Target(topic="news"), crowd)
    assert await push_notifications._push_devices(wanting) == [
        (await PushSubscription.select().where(PushSubscription.endpoint == device.endpoint).first())["id"]]
