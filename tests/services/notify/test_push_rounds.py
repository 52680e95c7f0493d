"""A round bounds itself: past its budget it claims nothing new, finishes and records what it claimed, and
leaves the rest queued; the scaled-out jobs get a timeout longer than that budget (SAQ's default cancels a
job after 10 s, mid-send)."""

from __future__ import annotations

import httpx
import redis.asyncio as aioredis

from app import push_sender
from app.keyfile import new_vapid_keys
from app.services.notify import push_delivery, push_message, push_notifications
from app.services.notify.push_endpoints import PushHosts
from app.services.notify.push_notifications import Target
from app.services.shared import clock
from db.tables import Delivery, PushSubscription
from tests import factories
from tests.conftest import requires_redis
from tests.push_service import FakePushService

REDIS_URL = "redis://127.0.0.1:6379/13"


async def test_a_round_with_a_slow_push_service_stops_claiming_at_its_budget_and_records_what_it_sent(tmp_path):
    vapid_private, vapid_public = new_vapid_keys()
    member = await factories.member("遅い通知を受け取る人", email="")
    with FakePushService(delay=0.05) as slow:
        devices = [slow.device(server_key=vapid_public) for _ in range(300)]
        await PushSubscription.insert(*[
            PushSubscription(account=member.account_id, **device.subscription(), device_label="端末", created_at=clock.now())
            for device in devices])
        await push_notifications.create_notification(Target(topic="news"), "臨時便", "本日運行します", "/notices", None)
        signer = push_message.VapidSigner(vapid_private, "mailto:admin@localhost")
        async with httpx.AsyncClient(timeout=5) as client:
            hosts = PushHosts([slow.origin])  # the fake service on loopback, listed as PUSH_EXTRA_HOSTS would
            first = await push_delivery.run_once(client, signer, concurrency=5, budget_s=0.3, hosts=hosts)
            statuses = [row["status"] for row in await Delivery.select(Delivery.status)]
            # 300 messages at 50 ms, 5 at a time, take 3 s: the round ended early, nothing left claimed.
            assert 0 < first.sent < 300 and statuses.count("sent") == first.sent == slow.delivered
            assert statuses.count("sending") == 0 and statuses.count("queued") == 300 - first.sent
            assert await Delivery.count().where((Delivery.status == "queued") & (Delivery.attempts > 0)) == 0
            second = await push_delivery.run_once(client, signer, concurrency=50, hosts=hosts)
        assert first.sent + second.sent == 300 == slow.delivered
        assert slow.errors == []


@requires_redis
async def test_the_scaled_out_round_jobs_get_a_timeout_longer_than_a_round(settings):
    assert push_sender.JOB_TIMEOUT_S >= push_delivery.ROUND_S + 30
    scaled = settings.with_(redis_url=REDIS_URL)
    redis = aioredis.from_url(REDIS_URL)
    await redis.flushdb()
    try:
        app_side = push_sender.QueuedSender(scaled)
        await app_side.start()
        app_side.wake()
        await app_side.stop()
        worker = push_sender.worker(scaled)
        [cron] = worker.cron_jobs
        assert cron.timeout == push_sender.JOB_TIMEOUT_S
        await worker.queue.connect()
        await worker.schedule()
        jobs = (await worker.queue.info(jobs=True))["jobs"]  # the app's wake and the next cron round
        assert {job["function"] for job in jobs} == {push_sender.ROUND_JOB} and len(jobs) == 2
        assert {job["timeout"] for job in jobs} == {push_sender.JOB_TIMEOUT_S}
        await worker.queue.disconnect()
    finally:
        await redis.flushdb()
        await redis.aclose()
