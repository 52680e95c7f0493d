"""Scaled out, a worker process killed with SIGKILL mid-round: the job it held stays 'active' in Redis, yet
a broadcast posted after a new worker starts is sent within seconds (not at the next per-minute round)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

from saq import Queue

from app import push_sender
from app.services.notify import push_delivery, push_notifications
from app.services.notify.push_notifications import Target
from app.services.shared import clock
from db.tables import Delivery, PushSubscription
from tests import factories
from tests.conftest import ROOT, requires_redis
from tests.push_service import FakePushService

REDIS_URL = "redis://127.0.0.1:6379/12"
DEVICES = 400

pytestmark = requires_redis


def start_worker(settings, push_service: FakePushService) -> subprocess.Popen:
    env = {**os.environ, "PUSH_EXTRA_HOSTS": push_service.origin, "DATABASE_URL": settings.database_url, "REDIS_URL": REDIS_URL,
           "TSUNAGU_VAR_DIR": str(settings.var_dir), "SECRET_KEY": settings.secret_key,
           "SIGNING_KEY": settings.signing_key, "VAPID_PRIVATE_KEY": settings.vapid_private_key,
           "VAPID_PUBLIC_KEY": settings.vapid_public_key, "VAPID_SUBJECT": "mailto:admin@localhost",
           "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "app", "worker", "--concurrency", "2"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(10)


async def wake(settings) -> None:
    app_side = push_sender.QueuedSender(settings)
    await app_side.start()
    app_side.wake()
    await app_side.stop()


async def active_jobs() -> list:
    queue = Queue.from_url(REDIS_URL, name="tsunagu-push")
    await queue.connect()
    try:
        return [job for job in (await queue.info(jobs=True))["jobs"] if job["status"] == "active"]
    finally:
        await queue.disconnect()


async def test_a_broadcast_after_a_worker_was_killed_mid_round_is_sent_within_seconds(settings, clean_queue):
    scaled = settings.with_(redis_url=REDIS_URL)
    member = await factories.member("再起動後に受け取る人", email="")
    with FakePushService(delay=0.5) as slow:
        devices = [slow.device(server_key=scaled.vapid_public_key) for _ in range(DEVICES)]
        await PushSubscription.insert(*[
            PushSubscription(account=member.account_id, **device.subscription(), device_label="端末", created_at=clock.now())
            for device in devices])
        first_news = await push_notifications.create_notification(Target(topic="news"), "第一報", "避難所を開設", "/notices", None)

        # 1. A worker starts the round of the first broadcast and is killed with SIGKILL in the middle of it.
        first = start_worker(scaled, slow)
        try:
            await wake(scaled)
            reached = await asyncio.to_thread(slow.when_delivered(50).wait, 30)
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
        finally:
            stop(first)
        assert reached, first.stderr.read()[-2000:]
        assert [job["function"] for job in await active_jobs()] == [push_sender.ROUND_JOB]  # left 'active'
        slow.delay = 0.0

        # 2. A new worker; a second broadcast, posted now, reaches every device within seconds.
        second = start_worker(scaled, slow)
        try:
            await asyncio.sleep(1.1)  # another second: the wake-up of step 1 is not the one that counts
            second_news = await push_notifications.create_notification(Target(topic="news"), "第二報", "給水所のお知らせ",
                                                                     "/notices", None)
            posted = time.monotonic()
            await wake(scaled)
            for _ in range(300):  # 30 s at most
                if await Delivery.count().where((Delivery.notification == second_news) & (Delivery.status == "sent")) == DEVICES:
                    break
                await asyncio.sleep(0.1)
            waited = time.monotonic() - posted

            # 3. The first broadcast's leases run out (as two minutes would): what the killed worker had only
            # claimed is sent now, what it had requested is settled as interrupted and never requested again.
            await Delivery.update({Delivery.claimed_until: clock.now() - timedelta(seconds=1)}).where(
                (Delivery.notification == first_news) & Delivery.status.is_in(["sending", "pushing"]))
            await asyncio.sleep(1.1)
            await wake(scaled)
            for _ in range(300):  # 30 s at most
                if not await Delivery.count().where((Delivery.notification == first_news)
                                                    & Delivery.status.is_in(["queued", "sending", "pushing"])):
                    break
                await asyncio.sleep(0.1)
        finally:
            stop(second)
    sent = await Delivery.count().where((Delivery.notification == second_news) & (Delivery.status == "sent"))
    assert sent == DEVICES, f"{sent} of {DEVICES} sent in {waited:.1f} s"
    assert waited < 15, f"the second broadcast took {waited:.1f} s"
    first = await Delivery.select(Delivery.id, Delivery.status, Delivery.last_error).where(Delivery.notification == first_news)
    assert len(first) == DEVICES
    assert {(r["status"], r["last_error"]) for r in first} <= {("sent", ""), ("failed", push_delivery.INTERRUPTED)}
    # Not one request twice for a delivery: the service keeps one message per topic and counts every 201
    assert slow.delivered == sum(len(device.messages) for device in devices)
    held = {topic for device in devices for topic in device.messages}
    assert {f"d{r['id']}" for r in first if r["status"] == "sent"} <= held  # sent is on its device
    interrupted = [r for r in first if r["status"] == "failed"]
    assert len(interrupted) <= push_delivery.MARK_AHEAD + push_delivery.CONCURRENCY + push_delivery.RECORD_BATCH
