"""Push notifications in a real phone browser, end to end: opt in, a program is published, the sender
pushes it to a strict fake push service (tests/push_service.py: VAPID checked, body decrypted with the
device's own keys), the service worker shows it, and a tap takes the app to the program.

Headless Chromium cannot subscribe for real (there is no push service to reach), so an init script stands in
for `PushManager.prototype.subscribe`/`getSubscription`: it returns a subscription whose endpoint is on the
fake service and whose keys the test made. The decrypted message is then handed to the service worker with
the DevTools command `ServiceWorker.deliverPushMessage`, as the browser would on receiving it. A tap on a
notification cannot be simulated, so the worker's click handler is called inside the worker.
"""

from __future__ import annotations

import json
import os
import re
import time

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import BrowserContext, Page, Worker, expect

from app.auth import AUTH_COOKIE
from app.services.membership import login_sessions
from app.services.notify import push_delivery, push_message, push_notifications, push_subscriptions
from app.services.notify.push_endpoints import PushHosts
from db.tables import PushSubscription
from tests import factories
from tests.browser.conftest import (
    ACTION_TIMEOUT_MS,
    PHONE,
    grant_notifications,
    run_async,
    wait_for_service_worker_control,
)
from tests.push_service import Device, FakePushService, b64url_decode

PROGRAM_TITLE = "ほっき貝の浜で漁業体験"
SUBSCRIBED = "この端末で通知を受け取ります。"
UNSUBSCRIBED = "この端末では通知を受け取りません。"
IPHONE_SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Version/17.4 Mobile/15E148 Safari/604.1")

# Stands in for the browser's push subscription (kept in localStorage so it survives a reload, as a real
# one would), and counts permission prompts so the test can tell that none comes on page load.
STUB_PUSH_MANAGER = """
(() => {
  const device = %s;
  const HELD = 'test-push-subscription';
  window.__permissionPrompts = 0;
  window.__browserUnsubscribes = 0;
  const ask = Notification.requestPermission.bind(Notification);
  Notification.requestPermission = (...args) => { window.__permissionPrompts += 1; return ask(...args); };
  function subscription(key) {
    return {
      endpoint: device.endpoint,
      expirationTime: null,
      options: { userVisibleOnly: true, applicationServerKey: key ? key.buffer : null },
      getKey: () => null,
      toJSON: () => ({ endpoint: device.endpoint, expirationTime: null, keys: device.keys }),
      unsubscribe: async () => { localStorage.removeItem(HELD); window.__browserUnsubscribes += 1; return true; },
    };
  }
  PushManager.prototype.subscribe = async function (options) {
    if (!options || !options.userVisibleOnly || !options.applicationServerKey) throw new DOMException('bad options', 'NotAllowedError');
    localStorage.setItem(HELD, '1');
    return subscription(new Uint8Array(options.applicationServerKey));
  };
  PushManager.prototype.getSubscription = async function () {
    return localStorage.getItem(HELD) ? subscription(null) : null;
  };
})();
"""
NOTIFICATIONS_SHOWN = """async () => {
  const registration = await navigator.serviceWorker.ready;
  return (await registration.getNotifications()).map((n) => ({
    title: n.title, body: n.body, tag: n.tag, icon: n.icon, badge: n.badge, url: n.data && n.data.url,
  }));
}"""
TAP_NOTIFICATION = """async () => {
  const [notification] = await self.registration.getNotifications();
  const client = await openNotification(notification);
  return client ? client.url : null;
}"""
RENEW_FROM_WORKER = """async ([oldEndpoint, fresh, key]) => {
  const old = { endpoint: oldEndpoint, options: { applicationServerKey: new Uint8Array(key).buffer } };
  await renewSubscription(old, { toJSON: () => fresh });
}"""


# --- set-up ------------------------------------------------------------------------------------------------


@pytest.fixture
def push_service(live_server, fake_push_service) -> FakePushService:
    """The fake push service the live server's settings list (tests/browser/conftest.py); a test makes its
    own devices on it."""
    return fake_push_service


def browser_subscription(device: Device) -> dict:
    return {"endpoint": device.endpoint, "keys": {"p256dh": device.p256dh, "auth": device.auth}}


async def member_following_an_area() -> tuple[int, int, str]:
    """(account id, area id, login token) of a member who follows one area."""
    area_id = await factories.area("勇払", "yufutsu")
    member = await factories.member("ふるさと花子", area_ids=[area_id])
    return member.account_id, area_id, await login_sessions.start(member.account_id, "pytest")


def log_in_member(context: BrowserContext, live_server) -> tuple[int, int]:
    account_id, area_id, token = run_async(member_following_an_area())
    context.add_cookies([{"name": AUTH_COOKIE, "value": token, "url": live_server.url}])
    return account_id, area_id


def open_settings(page: Page, state: str) -> None:
    page.goto("/account/notifications")
    wait_for_service_worker_control(page)
    expect(page.locator(f'[data-push][data-push-ready="{state}"]')).to_have_count(1)


def opt_in(page: Page) -> None:
    page.get_by_test_id("push-subscribe").click()
    expect(page.get_by_test_id("push-status")).to_have_text(SUBSCRIBED)
    expect(page.get_by_test_id("push-on")).to_be_visible()
    expect(page.get_by_test_id("push-device")).to_have_count(1)


async def stored_subscriptions() -> list[dict]:
    return await PushSubscription.select(PushSubscription.endpoint, PushSubscription.account)


def subscriptions() -> list[dict]:
    return run_async(stored_subscriptions())


async def push_round(settings) -> push_delivery.SendStats:
    async with httpx.AsyncClient(timeout=10) as client:
        return await push_delivery.run_once(client, push_message.VapidSigner(settings.vapid_private_key, settings.vapid_subject),
                                            hosts=PushHosts(settings.push_extra_hosts))


def service_worker(context: BrowserContext, live_server) -> Worker:
    deadline = time.monotonic() + ACTION_TIMEOUT_MS / 1000
    while True:
        workers = [w for w in context.service_workers if w.url.startswith(live_server.url + "/sw.js")]
        if workers:
            return workers[0]
        assert time.monotonic() < deadline, "the service worker did not start"
        context.wait_for_event("serviceworker", timeout=ACTION_TIMEOUT_MS)


def registration_id(page: Page, live_server) -> tuple[object, str]:
    """A DevTools session on `page` and the id of the app's service worker registration, once a version of it is
    activated: a push handed to a registration whose worker is still installing can be lost (a CI run on a loaded
    machine showed no notification)."""
    cdp = page.context.new_cdp_session(page)
    seen: list[dict] = []
    versions: list[dict] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: seen.extend(event["registrations"]))
    cdp.on("ServiceWorker.workerVersionUpdated", lambda event: versions.extend(event["versions"]))
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + ACTION_TIMEOUT_MS / 1000
    while True:
        ours = [r["registrationId"] for r in seen if r["scopeURL"] == live_server.url + "/" and not r.get("isDeleted")]
        if ours and any(v["registrationId"] == ours[-1] and v["status"] == "activated" for v in versions):
            return cdp, ours[-1]
        assert time.monotonic() < deadline, "no activated service worker reported"
        page.wait_for_timeout(50)


def wait_for_notifications(page: Page) -> list[dict]:
    deadline = time.monotonic() + ACTION_TIMEOUT_MS / 1000
    while not (shown := page.evaluate(NOTIFICATIONS_SHOWN)):
        assert time.monotonic() < deadline, "no notification was shown"
        page.wait_for_timeout(50)
    return shown


# --- the journey ------------------------------------------------------------------------------------------


def test_opt_in_then_a_published_program_arrives_as_a_notification_that_opens_it(page, context, live_server, push_service):
    settings = live_server.settings
    device = push_service.device(server_key=settings.vapid_public_key)
    context.add_init_script(STUB_PUSH_MANAGER % json.dumps(browser_subscription(device)))
    grant_notifications(context, live_server.url)
    account_id, area_id = log_in_member(context, live_server)

    open_settings(page, "off")
    assert page.evaluate("window.__permissionPrompts") == 0  # nothing is asked before the tap
    opt_in(page)
    assert page.evaluate("window.__permissionPrompts") == 1
    assert subscriptions() == [{"endpoint": device.endpoint, "account": account_id}]

    program_id = run_async(factories.program(area_id, title=PROGRAM_TITLE, summary="朝の浜で漁師さんと。"))
    run_async(push_notifications.announce_program(program_id, None, "ja"))
    stats = run_async(push_round(settings))
    assert (stats.sent, stats.failed, stats.retried) == (1, 0, 0)

    assert push_service.errors == []
    [received] = push_service.requests_for(device)
    assert received.status == 201 and received.ttl and received.urgency == "normal"
    message = received.payload
    program_path = f"/programs/{program_id}"
    assert message["title"] == f"新しいプログラム：{PROGRAM_TITLE}" and message["url"] == program_path

    cdp, registration = registration_id(page, live_server)
    cdp.send("ServiceWorker.deliverPushMessage", {
        "origin": live_server.url, "registrationId": registration, "data": json.dumps(message, ensure_ascii=False),
    })
    [shown] = wait_for_notifications(page)
    assert shown == {
        "title": f"新しいプログラム：{PROGRAM_TITLE}", "body": "朝の浜で漁師さんと。", "tag": message["tag"],
        "icon": f"{live_server.url}/icons/icon-192.png", "badge": f"{live_server.url}/icons/icon-192.png",
        "url": program_path,
    }

    # The tap: the open window of the app is taken to the program.
    opened = service_worker(context, live_server).evaluate(TAP_NOTIFICATION)
    assert opened == live_server.url + program_path
    expect(page).to_have_url(re.compile(rf"{re.escape(program_path)}$"))
    expect(page.get_by_role("heading", name=PROGRAM_TITLE)).to_be_visible()


def test_turning_this_device_off_forgets_it_on_the_server_and_in_the_browser(page, context, live_server, push_service):
    device = push_service.device(server_key=live_server.settings.vapid_public_key)
    context.add_init_script(STUB_PUSH_MANAGER % json.dumps(browser_subscription(device)))
    grant_notifications(context, live_server.url)
    log_in_member(context, live_server)
    open_settings(page, "off")
    opt_in(page)

    open_settings(page, "on")  # a later visit knows this device is on (and tells the server again)
    page.get_by_test_id("push-unsubscribe").click()
    expect(page.get_by_test_id("push-status")).to_have_text(UNSUBSCRIBED)
    expect(page.get_by_test_id("push-subscribe")).to_be_visible()
    expect(page.get_by_test_id("push-no-devices")).to_be_visible()
    assert page.evaluate("window.__browserUnsubscribes") == 1
    assert subscriptions() == []


def test_the_worker_hands_a_replaced_subscription_to_the_server_with_the_login_cookie(page, context, live_server, push_service):
    key = list(b64url_decode(live_server.settings.vapid_public_key))
    old = push_service.device(server_key=live_server.settings.vapid_public_key)
    new = push_service.device(server_key=live_server.settings.vapid_public_key)
    context.add_init_script(STUB_PUSH_MANAGER % json.dumps(browser_subscription(old)))
    grant_notifications(context, live_server.url)
    account_id, _area_id = log_in_member(context, live_server)
    open_settings(page, "off")
    opt_in(page)

    service_worker(context, live_server).evaluate(RENEW_FROM_WORKER, [old.endpoint, browser_subscription(new), key])

    assert subscriptions() == [{"endpoint": new.endpoint, "account": account_id}]


def test_on_an_iphone_outside_the_installed_app_it_shows_how_to_add_it_to_the_home_screen(browser, live_server):
    iphone = browser.new_context(base_url=live_server.url, **{**PHONE, "user_agent": IPHONE_SAFARI})
    iphone.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        # Safari outside a home-screen app: no PushManager, navigator.standalone false.
        iphone.add_init_script("delete window.PushManager; Object.defineProperty(navigator, 'standalone', { value: false });")
        log_in_member(iphone, live_server)
        page = iphone.new_page()
        page.goto("/account/notifications")
        expect(page.locator('[data-push][data-push-ready="ios-install"]')).to_have_count(1)
        expect(page.get_by_test_id("push-ios-install")).to_be_visible()
        expect(page.get_by_test_id("push-ios-install")).to_contain_text("ホーム画面に追加")
        expect(page.get_by_test_id("push-subscribe")).to_be_hidden()
    finally:
        iphone.close()


ANDROID_CHROME = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
                  "Mobile Safari/537.36")
# The member answers the browser's question with "Block": the permission is denied from then on.
BLOCK_WHEN_ASKED = """
(() => {
  let permission = 'default';
  Object.defineProperty(Notification, 'permission', { get: () => permission });
  Notification.requestPermission = () => { permission = 'denied'; return Promise.resolve('denied'); };
})();
"""


def test_a_member_who_blocked_notifications_is_told_where_to_allow_them_on_their_phone(browser, live_server):
    android = browser.new_context(base_url=live_server.url, **{**PHONE, "user_agent": ANDROID_CHROME})
    android.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        android.add_init_script(BLOCK_WHEN_ASKED)
        log_in_member(android, live_server)
        page = android.new_page()
        open_settings(page, "off")
        page.get_by_test_id("push-subscribe").click()
        expect(page.get_by_test_id("push-denied")).to_be_visible()
        expect(page.get_by_test_id("allow-android")).to_be_visible()
        expect(page.get_by_test_id("allow-android")).to_contain_text("「権限」")
        expect(page.get_by_test_id("allow-desktop")).to_be_hidden()
        expect(page.get_by_test_id("push-error")).to_contain_text("許可")
        assert subscriptions() == []
    finally:
        android.close()


# --- the secretariat's composer ---------------------------------------------------------------------------


async def two_areas_and_a_staff_login() -> tuple[int, str]:
    """A member following 勇払 (with one device), another following 樽前; the staff login token."""
    yufutsu = await factories.area("勇払", "yufutsu")
    tarumae = await factories.area("樽前", "tarumae")
    follower = await factories.member("一郎", area_ids=[yufutsu])
    await factories.member("二郎", area_ids=[tarumae])
    phone = Device(id="phone", endpoint="https://fcm.googleapis.com/fcm/send/phone",
                   private_key=ec.generate_private_key(ec.SECP256R1()), auth_secret=os.urandom(16))
    await push_subscriptions.subscribe(follower.account_id, phone.endpoint, phone.p256dh, phone.auth, "Android")
    staff_id = await factories.staff_account()
    return yufutsu, await login_sessions.start(staff_id, "pytest")


def test_the_composer_counts_who_a_notification_reaches_as_areas_are_ticked(page, context, live_server):
    yufutsu, token = run_async(two_areas_and_a_staff_login())
    context.add_cookies([{"name": AUTH_COOKIE, "value": token, "url": live_server.url}])

    page.goto("/staff")
    page.get_by_test_id("staff-push").click()
    page.get_by_test_id("push-compose").click()
    reach = page.get_by_test_id("push-reach")
    expect(reach).to_contain_text("2人の会員に届きます（プッシュは1台の端末へ）")

    page.get_by_test_id(f"areas-{yufutsu}").check()
    expect(reach).to_contain_text("1人の会員に届きます（プッシュは1台の端末へ）")
    page.get_by_test_id("field-topic").select_option("surveys")
    page.get_by_test_id("prefecture-27").check()
    expect(reach).to_contain_text("0人の会員に届きます（プッシュは0台の端末へ）")

    # Ticking a whole region ticks its prefectures, and unticking one of them unticks the region.
    page.get_by_test_id("prefecture-27").uncheck()
    page.get_by_test_id("region-kanto").check()
    expect(page.get_by_test_id("prefecture-13")).to_be_checked()
    expect(page.get_by_test_id("prefecture-14")).to_be_checked()
    page.get_by_test_id("prefecture-14").uncheck()
    expect(page.get_by_test_id("region-kanto")).not_to_be_checked()
    expect(reach).to_contain_text("1人の会員に届きます（プッシュは1台の端末へ）")
    page.get_by_test_id("field-title").fill("アンケートのお願い")
    page.get_by_test_id("push-send").click()

    # Nothing goes out before staff see it as a phone will, and how many it reaches.
    expect(page.get_by_test_id("push-preview")).to_contain_text("アンケートのお願い")
    expect(page.get_by_test_id("confirm-prefectures")).not_to_contain_text("神奈川県")
    expect(page.get_by_test_id("push-confirm")).to_contain_text("1人の会員に届きます")
    page.get_by_test_id("push-confirm-send").click()
    expect(page.get_by_test_id("flash")).to_have_text("通知を送信しています。")
    expect(page.get_by_test_id("notification-title")).to_have_text("アンケートのお願い")
