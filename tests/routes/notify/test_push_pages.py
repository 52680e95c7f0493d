"""Push notification pages: a member's opt-in (subscribe, renew, unsubscribe), topics and test push; the
secretariat's composer with its reach preview and its record; the announcement of a published program.
Delivery itself is tested in tests/services/notify/test_push.py; here the sender is a stand-in that counts wakes."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.keyfile import b64url
from app.services.notify import push_notifications, push_subscriptions
from app.services.notify.push_subscriptions import Preferences
from db.tables import Delivery, Notice, Notification, PushSubscription
from tests import factories
from tests.conftest import log_in

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}


class CountingSender:
    def __init__(self) -> None:
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1


@pytest.fixture
def sender(app) -> CountingSender:
    stand_in = CountingSender()
    app.state.push_sender = stand_in
    return stand_in


def device(endpoint: str | None = None) -> dict:
    """What PushManager.subscribe() gives a page: toJSON() of a new subscription with real P-256 keys."""
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {
        "endpoint": endpoint or f"https://fcm.googleapis.com/fcm/send/{b64url(os.urandom(12))}",
        "expirationTime": None,
        "keys": {"p256dh": b64url(point), "auth": b64url(os.urandom(16))},
    }


async def post_json(client, url: str, body, csrf: bool = True, **headers):
    token = await client.ensure_csrf()
    content = body if isinstance(body, (str, bytes)) else json.dumps(body)
    all_headers = {**JSON_HEADERS, **({"x-csrftoken": token} if csrf else {}), **headers}
    return await client.post(url, content=content, headers=all_headers)


async def member_client(client, **profile) -> int:
    member = await factories.member(**profile)
    await log_in(client, member.account_id)
    return member.account_id


async def staff_client(client) -> int:
    account_id = await factories.staff_account()
    await log_in(client, account_id)
    return account_id


# --- the member's page ------------------------------------------------------------------------------


async def test_the_page_explains_the_opt_in_and_carries_the_vapid_key(client, settings):
    await member_client(client)
    page = await client.get("/account/notifications")
    assert page.status_code == 200
    assert "通知を受け取る" in page.text
    assert f'data-vapid-key="{settings.vapid_public_key}"' in page.text
    assert 'data-testid="push-ios-install"' in page.text and "ホーム画面に追加" in page.text
    assert "/static/js/push.js" in page.text
    assert 'data-testid="push-no-devices"' in page.text
    account = await client.get("/account")
    assert 'href="/account/notifications"' in account.text


async def test_a_member_subscribes_this_device_labelled_from_its_user_agent(client):
    account_id = await member_client(client)
    sub = device()
    response = await post_json(client, "/push/subscriptions", sub, **{"user-agent": IPHONE})
    assert response.status_code == 201, response.text
    assert response.json()["detail"] == "この端末で通知を受け取ります。"
    row = await PushSubscription.select().where(PushSubscription.endpoint == sub["endpoint"]).first()
    assert row["account"] == account_id
    assert (row["p256dh"], row["auth"]) == (sub["keys"]["p256dh"], sub["keys"]["auth"])
    assert row["device_label"] == "iPhone · Safari"
    page = await client.get("/account/notifications")
    assert page.text.count('data-testid="push-device"') == 1 and 'data-testid="push-test"' in page.text


async def test_the_device_list_alone_is_served_to_htmx(client):
    await member_client(client)
    await post_json(client, "/push/subscriptions", device())
    fragment = await client.get("/account/notifications", headers={"HX-Request": "true", "HX-Target": "push-devices"})
    assert fragment.text.lstrip().startswith('<section class="card" id="push-devices"')
    assert "<html" not in fragment.text
    # An HTMX visit to the page itself (HX-Location after a form) gets the whole page.
    assert "<html" in (await client.get("/account/notifications", headers={"HX-Request": "true"})).text


BAD_SUBSCRIPTIONS = [
    ("not json at all", "bad_json", "ブラウザから届いた内容を読み取れませんでした"),
    ([], "bad_json", "ブラウザから届いた内容を読み取れませんでした"),
    ({}, "bad_json", "ブラウザから届いた内容を読み取れませんでした"),
    ({"endpoint": "ftp://push.example.net/x", "keys": device()["keys"]}, "bad_endpoint", "プッシュサービスのアドレス"),
    ({"endpoint": "http://push.example.net/x", "keys": device()["keys"]}, "bad_endpoint", "プッシュサービスのアドレス"),
    ({"endpoint": 42, "keys": device()["keys"]}, "bad_endpoint", "プッシュサービスのアドレス"),
    ({"endpoint": "https://push.example.net/x", "keys": device()["keys"]}, "bad_endpoint", "プッシュサービスのアドレス"),
    ({"endpoint": "https://fcm.googleapis.com/fcm/send/x"}, "bad_keys", "キーを読み取れませんでした"),
    ({"endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": {"p256dh": "short", "auth": "x"}}, "bad_keys",
     "キーを読み取れませんでした"),
    ({"endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": {"p256dh": "A" * 87, "auth": "B" * 22}}, "bad_keys",
     "キーを読み取れませんでした"),
    ({"endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": {"p256dh": None, "auth": 1}}, "bad_keys",
     "キーを読み取れませんでした"),
]


@pytest.mark.parametrize(("body", "code", "message"), BAD_SUBSCRIPTIONS)
async def test_a_bad_subscription_gets_a_clear_japanese_error_never_a_500(client, body, code, message):
    await member_client(client)
    response = await post_json(client, "/push/subscriptions", body)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert message in response.json()["detail"]
    assert await PushSubscription.count() == 0


async def test_subscribing_without_the_csrf_header_is_refused(client):
    await member_client(client)
    response = await post_json(client, "/push/subscriptions", device(), csrf=False)
    assert response.status_code == 403
    assert await PushSubscription.count() == 0


async def test_a_logged_out_page_gets_a_json_401_not_a_redirect(client):
    response = await post_json(client, "/push/subscriptions", device())
    assert response.status_code == 401
    assert response.json()["detail"] == "このページを見るには、パスキーでログインしてください。"


async def test_a_member_turns_this_device_off_but_cannot_remove_another_accounts_device(client):
    await member_client(client)
    mine, theirs = device(), device()
    other = await factories.member("港太郎")
    await push_subscriptions.subscribe(other.account_id, theirs["endpoint"], theirs["keys"]["p256dh"], theirs["keys"]["auth"],
                                       "Android")
    await post_json(client, "/push/subscriptions", mine)

    response = await post_json(client, "/push/subscriptions/delete", {"endpoint": mine["endpoint"]})
    assert response.status_code == 200
    assert response.json()["detail"] == "この端末では通知を受け取りません。"
    await post_json(client, "/push/subscriptions/delete", {"endpoint": theirs["endpoint"]})
    assert [r["endpoint"] for r in await PushSubscription.select(PushSubscription.endpoint)] == [theirs["endpoint"]]

    bad = await post_json(client, "/push/subscriptions/delete", "{")
    assert bad.status_code == 400 and bad.json()["code"] == "bad_json"
    missing = await post_json(client, "/push/subscriptions/delete", {"endpoint": ""})
    assert missing.status_code == 400 and missing.json()["code"] == "bad_endpoint"


# --- the service worker's renewal -----------------------------------------------------------------


async def test_a_renewed_subscription_replaces_the_old_one_without_a_csrf_token(client):
    account_id = await member_client(client)
    old, new = device(), device()
    await post_json(client, "/push/subscriptions", old, **{"user-agent": IPHONE})

    response = await post_json(client, "/push/subscriptions/renew", {"old_endpoint": old["endpoint"], "subscription": new},
                               csrf=False)
    assert response.status_code == 200, response.text
    rows = await PushSubscription.select()
    assert [(r["endpoint"], r["account"], r["device_label"]) for r in rows] == [(new["endpoint"], account_id, "iPhone · Safari")]


async def test_renewal_needs_an_old_endpoint_of_the_same_account_and_json(client):
    other = await factories.member("港太郎")
    theirs = device()
    await push_subscriptions.subscribe(other.account_id, theirs["endpoint"], theirs["keys"]["p256dh"], theirs["keys"]["auth"],
                                       "Android")
    await member_client(client)
    new = device()

    stolen = await post_json(client, "/push/subscriptions/renew", {"old_endpoint": theirs["endpoint"], "subscription": new},
                             csrf=False)
    assert stolen.status_code == 404 and stolen.json()["code"] == "not_found"
    nothing = await post_json(client, "/push/subscriptions/renew", {"subscription": new}, csrf=False)
    assert nothing.status_code == 404
    # A cross-site form can send only form encodings (and no JSON without a CORS preflight): refused.
    form = await client.post("/push/subscriptions/renew", data={"old_endpoint": theirs["endpoint"]},
                             headers={"accept": "application/json"})
    assert form.status_code == 415 and form.json()["code"] == "json_only"
    bad = await post_json(client, "/push/subscriptions/renew", {"old_endpoint": "x", "subscription": {"endpoint": "x"}},
                          csrf=False)
    assert bad.status_code == 400 and bad.json()["code"] == "bad_keys"
    assert [r["endpoint"] for r in await PushSubscription.select(PushSubscription.endpoint)] == [theirs["endpoint"]]


# --- topics and the test push -----------------------------------------------------------------------


async def test_preferences_are_saved_per_topic_and_shown_again(client):
    account_id = await member_client(client)
    response = await client.submit("/account/notifications/preferences", {"programs": "all", "surveys": "1"},
                                   follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/account/notifications"
    assert await push_subscriptions.preferences(account_id) == Preferences(programs="all", events=False, surveys=True, news=False)
    page = await client.get("/account/notifications")
    assert "通知の設定を保存しました。" in page.text
    assert re.search(r'value="all" checked data-testid="pref-programs-all"', page.text)
    assert re.search(r'name="surveys" value="1" checked', page.text)
    assert not re.search(r'name="events" value="1" checked', page.text)


async def test_an_unknown_programs_choice_is_refused_with_a_message(client):
    account_id = await member_client(client)
    page = await client.submit("/account/notifications/preferences", {"programs": "everything!", "news": "1"})
    assert "新しいプログラムについて、どれを受け取るか選んでください。" in page.text
    assert await push_subscriptions.preferences(account_id) == Preferences()


async def test_send_me_a_test_queues_a_push_for_this_member_alone_and_wakes_the_sender(client, sender):
    account_id = await member_client(client)
    other = await factories.member("港太郎")
    mine, theirs = device(), device()
    await push_subscriptions.subscribe(other.account_id, theirs["endpoint"], theirs["keys"]["p256dh"], theirs["keys"]["auth"],
                                       "Android")
    await post_json(client, "/push/subscriptions", mine)

    response = await client.submit("/account/notifications/test", follow_redirects=False)
    assert response.status_code == 303
    assert sender.wakes == 1
    notification = await Notification.select().first().output(load_json=True)
    assert notification["topic"] == "test" and notification["target"]["accounts"] == [account_id]
    assert notification["url"] == "/account/notifications"
    await push_notifications.fan_out_due()
    deliveries = await Delivery.select(Delivery.subscription.endpoint.as_alias("endpoint"))
    assert [d["endpoint"] for d in deliveries] == [mine["endpoint"]]
    assert "テスト通知を送りました" in (await client.get("/account/notifications")).text


async def test_a_test_without_any_device_says_so(client, sender):
    await member_client(client)
    page = await client.submit("/account/notifications/test")
    assert "通知を受け取る端末がまだありません" in page.text


# --- the secretariat ----------------------------------------------------------------------------------


async def test_a_member_cannot_open_the_staff_push_pages(client):
    await member_client(client)
    for path in ("/staff/push", "/staff/push/new", "/staff/push/reach?topic=news"):
        response = await client.get(path)
        assert response.status_code == 403, path
    refused = await client.submit("/staff/push", {"title": "全員へ", "topic": "news", "when": "now"})
    assert refused.status_code == 403
    assert await Notification.count() == 0


async def test_staff_cannot_use_the_member_push_pages(client):
    await staff_client(client)
    assert (await client.get("/account/notifications")).status_code == 403
    assert (await post_json(client, "/push/subscriptions", device())).status_code == 403


async def followers_of_two_areas() -> tuple[int, int]:
    """Two areas; three members follow the first (one of them premium), one follows the second."""
    yufutsu = await factories.area("勇払", "yufutsu")
    tarumae = await factories.area("樽前", "tarumae")
    for name, area, pref in (("一郎", yufutsu, "13"), ("二郎", yufutsu, "13"), ("三郎", yufutsu, "27"), ("四郎", tarumae, "13")):
        member = await factories.member(name, area_ids=[area], home_prefecture=pref)
        sub = device()
        await push_subscriptions.subscribe(member.account_id, sub["endpoint"], sub["keys"]["p256dh"], sub["keys"]["auth"],
                                           "Android")
    return yufutsu, tarumae


async def test_the_composer_previews_how_many_members_and_devices_it_reaches(client):
    await staff_client(client)
    yufutsu, tarumae = await followers_of_two_areas()
    page = await client.get("/staff/push/new")
    assert page.status_code == 200
    assert "4人の会員" in page.text and "4台の端末" in page.text

    fragment = await client.get(f"/staff/push/reach?topic=news&areas={yufutsu}&prefectures=13",
                                headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and 'data-testid="push-reach"' in fragment.text
    assert "2人の会員" in fragment.text and "2台の端末" in fragment.text
    assert fragment.headers["vary"].startswith("HX-Request")

    both = await client.get(f"/staff/push/reach?topic=news&areas={yufutsu}&areas={tarumae}&areas=oops&areas=999",
                            headers={"HX-Request": "true"})
    assert "4人の会員" in both.text
    full = await client.get(f"/staff/push/reach?topic=news&areas={yufutsu}&title=予告")
    assert "<html" in full.text and "3人の会員" in full.text and 'value="予告"' in full.text


async def test_staff_send_a_targeted_notification_now_and_the_sender_is_woken(client, sender):
    staff_id = await staff_client(client)
    yufutsu, _tarumae = await followers_of_two_areas()
    form = {"title": "勇払の清掃活動", "body": "今週末です。", "url": "/programs", "topic": "news",
            "areas": str(yufutsu), "tiers": "basic", "prefectures": ["13", "88"], "when": "now", "send_at": ""}
    check = await client.submit("/staff/push", form, follow_redirects=False)
    assert check.status_code == 200 and 'data-testid="push-confirm"' in check.text
    assert '<strong data-testid="preview-title">勇払の清掃活動</strong>' in check.text and "今週末です。" in check.text
    assert 'data-testid="confirm-prefectures">東京都<' in check.text and "2人の会員" in check.text
    assert "2人に送信する" in check.text
    assert await Notification.count() == 0 and sender.wakes == 0  # nothing before staff confirm
    response = await client.submit("/staff/push", {**form, "confirmed": "1"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/staff/push"
    assert sender.wakes == 1
    notification = await Notification.select().first().output(load_json=True)
    assert notification["created_by"] == staff_id
    assert notification["target"] == {"topic": "news", "areas": [yufutsu], "tiers": ["basic"], "prefectures": ["13"],
                                      "accounts": None}
    await push_notifications.fan_out_due()
    assert await Notice.count() == 2 and await Delivery.count() == 2


async def test_staff_schedule_a_notification_at_a_tokyo_time(client, sender):
    await staff_client(client)
    later = datetime.now(timezone(timedelta(hours=9))).replace(second=0, microsecond=0) + timedelta(days=2)
    form = {"title": "予約", "topic": "events", "when": "later", "send_at": later.strftime("%Y-%m-%dT%H:%M"),
            "confirmed": "1"}
    response = await client.submit("/staff/push", form, follow_redirects=False)
    assert response.status_code == 303
    row = await Notification.select(Notification.send_at, Notification.status, Notification.topic).first()
    assert row["send_at"] == later and row["status"] == "scheduled" and row["topic"] == "events"
    page = await client.get("/staff/push")
    assert "に送信予定" in page.text and 'data-testid="notification-scheduled"' in page.text
    assert 'hx-trigger="every 5s"' in page.text
    assert await push_notifications.fan_out_due() == 0


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"title": ""}, "title", "タイトルを入力してください。"),
        ({"title": "あ" * 121}, "title", "120文字以内"),
        ({"body": "あ" * 501}, "body", "500文字以内"),
        ({"url": "javascript:alert(1)"}, "url", "/ で始まるこのサイトのページ"),
        ({"url": "//evil.example/x"}, "url", "/ で始まるこのサイトのページ"),
        ({"url": "http://example.com/"}, "url", "/ で始まるこのサイトのページ"),
        ({"when": "later", "send_at": ""}, "send_at", "送信する日時を"),
        ({"when": "later", "send_at": "明日"}, "send_at", "送信する日時を"),
        ({"when": "later", "send_at": "2001-01-01T09:00"}, "send_at", "未来の日時"),
    ],
)
async def test_the_composer_shows_each_mistake_next_to_its_field(client, sender, changes, field, message):
    await staff_client(client)
    form = {"title": "お知らせ", "body": "", "url": "https://example.com/a", "topic": "news", "when": "now", **changes}
    response = await client.hx_post("/staff/push", form)
    assert response.status_code == 422
    assert "<html" not in response.text and 'id="push-form"' in response.text
    assert f'data-testid="error-{field}"' in response.text and message in response.text
    assert await Notification.count() == 0 and sender.wakes == 0


async def test_a_region_ticked_whole_means_its_prefectures_and_the_confirmation_can_be_changed(client, sender):
    await staff_client(client)
    await followers_of_two_areas()
    composer = await client.get("/staff/push/new")
    assert composer.text.index('data-testid="region-kanto"') < composer.text.index('data-testid="prefecture-13"')
    assert 'data-testid="region-hokkaido"' not in composer.text  # one prefecture: nothing to tick "all of"
    reach = await client.get("/staff/push/reach?topic=news&regions=kanto", headers={"HX-Request": "true"})
    assert "3人の会員" in reach.text  # the three in Tokyo; not the one in Osaka
    form = {"title": "関東の皆さんへ", "topic": "news", "when": "now", "regions": ["kanto", "nowhere"], "prefectures": "27"}
    check = await client.hx_post("/staff/push", form)
    assert check.status_code == 200 and "<html" not in check.text
    assert 'data-testid="confirm-prefectures">茨城県、栃木県、群馬県、埼玉県、千葉県、東京都、神奈川県、大阪府<' in check.text
    edit = check.text.split('data-testid="push-edit"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    again = await client.get(edit)
    assert 'value="関東の皆さんへ"' in again.text
    assert 'value="kanto" checked' in again.text and 'value="27" checked' in again.text
    assert 'value="kinki" checked' not in again.text
    assert await Notification.count() == 0


async def test_the_record_shows_queued_sent_failed_and_expired_counts(client):
    await staff_client(client)
    await followers_of_two_areas()
    notification_id = await push_notifications.create_notification(push_notifications.Target(topic="news"), "全員へ", "", "", None)
    await push_notifications.create_notification(push_notifications.Target(topic="test", account_ids=[]), "テスト", "", "", None)
    await push_notifications.fan_out_due()
    ids = [row["id"] for row in await Delivery.select(Delivery.id).order_by(Delivery.id)]
    for delivery_id, status in zip(ids, ("sent", "sent", "failed", "expired"), strict=True):
        await Delivery.update({Delivery.status: status}).where(Delivery.id == delivery_id)
    assert await push_notifications.notification_stats(notification_id) == {
        "queued": 0, "sending": 0, "pushing": 0, "sent": 2, "failed": 1, "expired": 1,
        "line_queued": 0, "line_sending": 0, "line_sent": 0, "line_failed": 0, "line_skipped": 0}
    page = await client.get("/staff/push")
    assert page.text.count('data-testid="notification-row"') == 1  # a member's own test is not staff news
    for testid, count in (("count-queued", 0), ("count-sent", 2), ("count-failed", 1), ("count-expired", 1)):
        assert f'data-testid="{testid}">{count}<' in page.text
    assert 'hx-trigger="every 5s"' not in page.text
    assert "4人" in page.text
    rows = await client.get("/staff/push", headers={"HX-Request": "true", "HX-Target": "notification-rows"})
    assert rows.text.startswith('<div id="notification-rows"') and rows.text.count('data-testid="notification-row"') == 1
    after_composer = await client.get("/staff/push", headers={"HX-Request": "true"})
    assert "<html" in after_composer.text
    staff_home = await client.get("/staff")
    assert 'href="/staff/push"' in staff_home.text


# --- a program published ------------------------------------------------------------------------------


async def test_a_published_program_is_announced_to_followers_and_those_who_want_every_program(app, sender):
    yufutsu = await factories.area("勇払", "yufutsu")
    tarumae = await factories.area("樽前", "tarumae")
    people = {}
    for name, area, choice in (("追う人", yufutsu, "followed"), ("全部の人", tarumae, "all"),
                               ("他の人", tarumae, "followed"), ("要らない人", yufutsu, "none")):
        member = await factories.member(name, area_ids=[area])
        await push_subscriptions.save_preferences(member.account_id, Preferences(programs=choice))
        sub = device()
        await push_subscriptions.subscribe(member.account_id, sub["endpoint"], sub["keys"]["p256dh"], sub["keys"]["auth"],
                                           "Android")
        people[name] = member.account_id
    program_id = await factories.program(yufutsu, title="ほっき貝の浜で漁業体験", summary="朝の浜で漁師さんと。")

    assert await push_notifications.announce_program(program_id, None, "ja") is True

    notification = await Notification.select().first().output(load_json=True)
    assert notification["topic"] == "programs"
    assert notification["title"] == "新しいプログラム：ほっき貝の浜で漁業体験"
    assert notification["body"] == "朝の浜で漁師さんと。"
    assert notification["url"] == app.route_reverse("get_program", program_id=program_id) == f"/programs/{program_id}"
    await push_notifications.fan_out_due()
    pushed = {row["account"] for row in await Delivery.select(Delivery.subscription.account.as_alias("account"))}
    assert pushed == {people["追う人"], people["全部の人"]}
    in_inbox = {row["account"] for row in await Notice.select(Notice.account)}
    assert in_inbox == {people["追う人"], people["全部の人"], people["要らない人"]}


async def test_an_event_is_announced_under_events_once_and_a_long_title_is_shortened(app, sender):
    area_id = await factories.area()
    program_id = await factories.program(area_id, kind="event", title="あ" * 120)
    assert await push_notifications.announce_program(program_id, None, "ja") is True
    assert await push_notifications.announce_program(program_id, None, "ja") is False  # approved again after an edit: not twice
    rows = await Notification.select(Notification.topic, Notification.title)
    assert len(rows) == 1 and rows[0]["topic"] == "events"
    assert len(rows[0]["title"]) == 120 and rows[0]["title"].startswith("新しいプログラム：あ") and rows[0]["title"].endswith("…")


async def test_a_program_not_published_is_not_announced(app, sender):
    area_id = await factories.area()
    draft = await factories.program(area_id, status="submitted")
    assert await push_notifications.announce_program(draft, None, "ja") is False
    assert await push_notifications.announce_program(999999, None, "ja") is False
    assert await Notification.count() == 0
