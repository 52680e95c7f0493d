"""Scaled out: an app process enqueues a push round on Redis and a SAQ worker process sends it."""

import asyncio

from app import push_sender
from app.services.notify import push_notifications, push_subscriptions
from app.services.notify.push_endpoints import PushHosts
from app.services.notify.push_notifications import Target
from db.tables import Delivery
from tests import factories
from tests.conftest import requires_redis
from tests.push_service import FakePushService

REDIS_URL = "redis://127.0.0.1:6379/14"


pytestmark = requires_redis


async def test_a_round_enqueued_by_the_app_is_sent_by_a_worker(settings, clean_queue):
    member = await factories.member("ワーカーで受け取る人")
    with FakePushService() as service:
        scaled = settings.with_(redis_url=REDIS_URL, push_extra_hosts=(service.origin,))
        device = service.device(server_key=scaled.vapid_public_key)
        await push_subscriptions.subscribe(member.account_id, **device.subscription(), device_label="Android",
                                           hosts=PushHosts(scaled.push_extra_hosts))
        await push_notifications.create_notification(Target(topic="news"), "雪まつりのお知らせ", "2月に開催します", "/inbox", None)

        app_side = push_sender.QueuedSender(scaled)
        await app_side.start()
        app_side.wake()
        app_side.wake()  # a second wake while one round waits adds nothing
        await app_side.stop()

        worker = push_sender.worker(scaled, burst=True)
        await asyncio.wait_for(worker.start(), timeout=30)

        assert [payload["title"] for payload in device.messages.values()] == ["雪まつりのお知らせ"]
        assert service.errors == []
    rows = await Delivery.select(Delivery.status)
    assert [row["status"] for row in rows] == ["sent"]
