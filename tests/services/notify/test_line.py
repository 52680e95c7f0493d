"""LINE as a channel: account linking by nonce, the webhook's events, and the sender against a fake LINE platform
on loopback (tests/line_platform.py) that checks the bearer token, the headers and the message schema, and
answers what each test tells it (200, 400, 429 with Retry-After, 500, 409 for a retry key it accepted before).

Runs on both databases (TSUNAGU_TEST_DB=postgres). Time is controlled through `app.services.shared.clock`.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from app.keyfile import new_vapid_keys
from app.services.membership import data_export
from app.services.notify import (
    line_delivery,
    line_links,
    push_delivery,
    push_message,
    push_notifications,
    push_subscriptions,
)
from app.services.notify.push_endpoints import PushHosts
from app.services.notify.push_notifications import Target
from app.services.notify.push_subscriptions import Preferences
from app.services.shared import clock
from app.settings import Line
from db.tables import AuditLog, LineDelivery, LineLink, Notice, PushSubscription
from tests import factories
from tests.line_platform import FakeLinePlatform, LineUser
from tests.push_service import FakePushService

BASE_URL = "https://tsunagu.example.jp"
LINK_PAGE = f"{BASE_URL}/line/link"


@pytest.fixture
def line(platform) -> Line:
    return platform.settings()


async def linked(platform: FakeLinePlatform, account_id: int) -> LineUser:
    """A LINE user linked to the account the way LINE links them: a nonce, then the accountLink event's."""
    user = platform.user()
    nonce = await line_links.start_link(account_id, clock.now())
    assert await line_links.complete_link(user.id, nonce, clock.now()) == "linked"
    return user


async def news(title: str = "雪まつりのお知らせ", body: str = "2月に開催します", url: str = "/programs/1") -> int:
    return await push_notifications.create_notification(Target(topic="news"), title, body, url, created_by=None)


async def events(platform: FakeLinePlatform, *made: dict) -> list[line_links.Reply]:
    """The events as the webhook would get them: signed by the platform, read by the SDK's parser."""
    body, headers = platform.signed(*made)
    return await line_links.handle_events(line_links.parse(platform.channel_secret, body, headers["X-Line-Signature"]),
                                          clock.now())


async def line_rows() -> list[dict]:
    return await LineDelivery.select().order_by(LineDelivery.id)


# --- linking ---------------------------------------------------------------------------------------


async def test_an_account_link_event_with_the_accounts_nonce_binds_its_line_user(platform, frozen):
    member = await factories.member()
    user = platform.user()
    nonce = await line_links.start_link(member.account_id, frozen())
    assert len(nonce) >= 40  # LINE asks for 10 to 255 characters, hard to guess: 256 random bits here
    replies = await events(platform, platform.account_link(user, nonce))
    assert [(r.kind, r.user_id) for r in replies] == [("linked", user.id)]
    assert await line_links.link_of(member.account_id) == {"status": "linked", "linked_at": frozen()}
    assert [row["action"] for row in await AuditLog.select(AuditLog.action)] == ["line.link"]


async def test_a_nonce_is_used_once_expires_and_a_guessed_one_binds_nothing(platform, frozen):
    member, other = await factories.member(), await factories.member("つなぐ太郎")
    nonce = await line_links.start_link(member.account_id, frozen())
    assert await line_links.complete_link(platform.user().id, "x" * 43, frozen()) == "unknown"
    assert await line_links.complete_link(platform.user().id, nonce[:-1], frozen()) == "unknown"
    first = platform.user()
    assert await line_links.complete_link(first.id, nonce, frozen()) == "linked"
    # The same nonce again (a replay, or a second LINE account) finds no account.
    assert await line_links.complete_link(platform.user().id, nonce, frozen()) == "unknown"
    late = await line_links.start_link(other.account_id, frozen())
    frozen.advance(minutes=10, seconds=1)
    assert await line_links.complete_link(platform.user().id, late, frozen()) == "unknown"
    assert [(row["account"], row["line_user_id"]) for row in await LineLink.select()] == [(member.account_id, first.id)]
    # It is theirs: in the member's own data download.
    assert (await data_export.export_data(member.account_id))["line_link"] == {
        "line_user_id": first.id, "status": "linked", "linked_at": frozen() - timedelta(minutes=10, seconds=1)}
    assert (await data_export.export_data(other.account_id))["line_link"] is None


async def test_a_failed_link_or_a_user_id_alone_binds_nothing(platform, frozen):
    member = await factories.member()
    user = platform.user()
    nonce = await line_links.start_link(member.account_id, frozen())
    replies = await events(platform, platform.account_link(user, nonce, result="failed"), platform.follow(user),
                           platform.message(user, f"{member.account_id} {nonce}"))
    assert [r.kind for r in replies] == ["invite", "invite"]  # the failed event carries no reply token
    assert await LineLink.count() == 0


async def test_a_second_link_replaces_nothing(platform, frozen):
    hanako, taro = await factories.member(), await factories.member("つなぐ太郎")
    hanakos_line = await linked(platform, hanako.account_id)
    # Hanako's membership with another LINE account: refused, her link stays.
    other_line = platform.user()
    replies = await events(platform, platform.account_link(other_line, await line_links.start_link(hanako.account_id, frozen())))
    assert [r.kind for r in replies] == ["taken"]
    # Hanako's LINE account for Taro's membership: refused too.
    assert await line_links.complete_link(hanakos_line.id, await line_links.start_link(taro.account_id, frozen()), frozen()) == "taken"
    # Linking the same pair again (a second tap on the link) is no change.
    assert await line_links.complete_link(hanakos_line.id, await line_links.start_link(hanako.account_id, frozen()), frozen()) == "linked"
    assert [(row["account"], row["line_user_id"]) for row in await LineLink.select()] == [(hanako.account_id, hanakos_line.id)]


async def test_a_follow_gets_a_link_token_and_a_reply_with_the_link_page(platform, line, frozen):
    user = platform.user()
    replies = await events(platform, platform.follow(user))
    await line_links.send_replies(line, replies, LINK_PAGE, "とまこまい つながる", "ja")
    assert len(user.replies) == 1 and f"{LINK_PAGE}?linkToken=" in user.replies[0]
    token = user.replies[0].split("linkToken=")[1].split()[0].rstrip("（(")
    assert platform.link_tokens.get(token) == user.id


def test_a_forged_or_missing_signature_is_refused(platform):
    body, headers = platform.signed(platform.follow(platform.user()))
    forged = platform.signed(platform.follow(platform.user()), secret="not-the-channel-secret")[1]["X-Line-Signature"]
    for signature in (None, "", forged, headers["X-Line-Signature"][:-2] + "AA"):
        with pytest.raises(line_links.BadWebhook):
            line_links.parse(platform.channel_secret, body, signature)
    with pytest.raises(line_links.BadWebhook):  # signed, but no payload
        line_links.parse(platform.channel_secret, b"\xff\xfe", headers["X-Line-Signature"])


async def test_unfollow_blocks_the_link_and_follow_brings_it_back(platform, line, frozen):
    member = await factories.member()
    user = await linked(platform, member.account_id)
    queued = await news("ブロック前")
    await push_notifications.fan_out_due()
    assert await events(platform, platform.unfollow(user)) == []
    later = await news("ブロック中")
    await push_notifications.fan_out_due()
    stats = await line_delivery.run_once(line, BASE_URL)
    # Queued before the unfollow: skipped when its turn comes; made after it: not queued at all.
    assert (stats.sent, stats.skipped) == (0, 1) and user.messages == [] and platform.pushes_to(user) == []
    assert [(row["notification"], row["status"], row["last_error"]) for row in await line_rows()] == [
        (queued, "skipped", "blocked")]
    assert await Notice.count() == 2 and later
    assert [r.kind for r in await events(platform, platform.follow(user))] == ["welcome_back"]
    await news("再開")
    await push_notifications.fan_out_due()
    await line_delivery.run_once(line, BASE_URL)
    assert len(user.messages) == 1 and user.messages[0].startswith("再開")


async def test_unlinking_skips_what_was_queued_and_is_audited(platform, line, frozen):
    member = await factories.member()
    await linked(platform, member.account_id)
    await news()
    await push_notifications.fan_out_due()
    assert await line_links.unlink(member.account_id, frozen()) is True
    assert await line_links.unlink(member.account_id, frozen()) is False
    assert await LineLink.count() == 0
    assert [(row["status"], row["last_error"]) for row in await line_rows()] == [("skipped", "unlinked")]
    assert [row["action"] for row in await AuditLog.select(AuditLog.action).order_by(AuditLog.id)] == ["line.link", "line.unlink"]


# --- sending ---------------------------------------------------------------------------------------


async def test_a_broadcast_reaches_linked_members_on_line_and_subscribers_by_push(platform, line, frozen):
    on_line, on_push, inbox_only = (await factories.member("LINE 花子"), await factories.member("プッシュ 太郎"),
                                    await factories.member("お知らせだけ 次郎"))
    user = await linked(platform, on_line.account_id)
    keys = new_vapid_keys()
    with FakePushService() as push_service:
        device = push_service.device(server_key=keys[1])
        hosts = PushHosts([push_service.origin])
        await push_subscriptions.subscribe(on_push.account_id, **device.subscription(), device_label="iPhone", hosts=hosts)
        assert await push_notifications.reach(Target(topic="news")) == (3, 1, 1, 0)
        notification = await news()
        async with httpx.AsyncClient(timeout=5) as http:
            await push_delivery.run_once(http, push_message.VapidSigner(keys[0], "mailto:admin@localhost"), hosts=hosts)
        stats = await line_delivery.run_once(line, BASE_URL)
        assert push_service.errors == []
    assert stats.sent == 1
    assert user.messages == [f"雪まつりのお知らせ\n\n2月に開催します\n\n{BASE_URL}/programs/1"]
    assert [payload["title"] for payload in device.messages.values()] == ["雪まつりのお知らせ"]
    assert await Notice.count() == 3 and inbox_only
    counts = await push_notifications.notification_stats(notification)
    assert (counts["sent"], counts["line_sent"], counts["line_queued"]) == (1, 1, 0)
    assert await PushSubscription.count() == 1


async def test_a_429_is_retried_after_its_retry_after(platform, line, frozen):
    member = await factories.member()
    user = await linked(platform, member.account_id)
    platform.answer(user, 429, 200, retry_after="120")
    await news()
    await push_notifications.fan_out_due()
    stats = await line_delivery.run_once(line, BASE_URL)
    assert (stats.sent, stats.retried) == (0, 1)
    row = (await line_rows())[0]
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("queued", 1, frozen() + timedelta(seconds=120))
    assert row["last_error"].startswith("HTTP 429")
    frozen.advance(seconds=119)
    assert (await line_delivery.run_once(line, BASE_URL)).sent == 0 and len(platform.pushes_to(user)) == 1
    frozen.advance(seconds=1)
    assert (await line_delivery.run_once(line, BASE_URL)).sent == 1
    assert len(user.messages) == 1 and (await line_rows())[0]["status"] == "sent"


async def test_a_server_error_is_retried_with_backoff_and_a_refusal_fails_with_its_reason(platform, line, frozen):
    busy_member, refused_member = await factories.member(), await factories.member("つなぐ太郎")
    busy, refused = await linked(platform, busy_member.account_id), await linked(platform, refused_member.account_id)
    platform.answer(busy, 500)
    platform.answer(refused, 400)
    await news()
    await push_notifications.fan_out_due()
    await line_delivery.run_once(line, BASE_URL)
    rows = {row["line_link"]: row for row in await line_rows()}
    links = {row["account"]: row["id"] for row in await LineLink.select()}
    failed = rows[links[refused_member.account_id]]
    assert failed["status"] == "failed" and failed["last_error"] == "HTTP 400 answered as the test asked"
    retried = rows[links[busy_member.account_id]]
    assert retried["status"] == "queued" and retried["next_attempt_at"] == frozen() + timedelta(seconds=30)
    for _attempt in range(push_delivery.MAX_ATTEMPTS):  # bounded: each attempt waits at most an hour
        frozen.advance(hours=1)
        await line_delivery.run_once(line, BASE_URL)
    assert (await LineDelivery.select().where(LineDelivery.id == retried["id"]).first())["status"] == "failed"
    assert len(platform.pushes_to(busy)) == push_delivery.MAX_ATTEMPTS and busy.messages == []


async def test_a_crash_between_claim_and_record_sends_nothing_twice(platform, line, frozen, monkeypatch):
    member = await factories.member()
    user = await linked(platform, member.account_id)
    await news()
    await push_notifications.fan_out_due()
    real_record = line_delivery._record

    async def crash(outcomes, stats):
        raise RuntimeError("the sender died after its request")

    monkeypatch.setattr(line_delivery, "_record", crash)
    with pytest.raises(RuntimeError):
        await line_delivery.run_once(line, BASE_URL)
    monkeypatch.setattr(line_delivery, "_record", real_record)
    assert (await line_rows())[0]["status"] == "sending" and len(user.messages) == 1
    assert (await line_delivery.run_once(line, BASE_URL)).sent == 0  # still leased to the dead sender
    frozen.advance(seconds=push_delivery.LEASE.total_seconds() + 1)
    assert (await line_delivery.run_once(line, BASE_URL)).sent == 1
    calls = platform.pushes_to(user)
    assert [call.status for call in calls] == [200, 409] and calls[0].retry_key == calls[1].retry_key
    assert len(user.messages) == 1 and (await line_rows())[0]["status"] == "sent"


async def test_a_notification_past_its_day_is_not_sent_late(platform, line, frozen):
    member = await factories.member()
    user = await linked(platform, member.account_id)
    await news()
    await push_notifications.fan_out_due()
    frozen.advance(seconds=push_delivery.TTL_S + 1)  # LINE was off, or its platform down, for more than a day
    assert (await line_delivery.run_once(line, BASE_URL)).skipped == 1
    assert user.messages == [] and (await line_rows())[0]["last_error"] == "expired"


async def test_topics_a_member_turned_off_do_not_go_to_line_either(platform, line, frozen):
    member = await factories.member()
    await linked(platform, member.account_id)
    await push_subscriptions.save_preferences(member.account_id, Preferences(news=False))
    assert await push_notifications.reach(Target(topic="news")) == (1, 0, 0, 0)
    assert await push_notifications.reach(Target(topic="events")) == (1, 0, 1, 0)
