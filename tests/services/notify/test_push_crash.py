"""A sender process killed mid-run, then started again: no device is sent the message twice.

The fan-out and the sending run in a separate Python process (`push_delivery.run_once` with a real httpx client, on
the test's own database) against the fake push service, which is slowed to 20 ms per message so that the
process can be killed with SIGKILL while it is sending. Its claims then stay leased until the lease runs
out; the test moves the leases into the past (what two minutes of waiting would do), starts a second
process, and lets it finish.

A delivery is marked 'pushing' before its request goes out, so what the dead process had requested — among
them messages the push service accepted but whose 201 the process never recorded — is settled as
interrupted and not requested again; what it had only claimed is sent by the second process. The fake
service counts every accepted request, so a second request for one delivery would show even though it
keeps messages by topic (RFC 8030 § 5.4).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest

from app.keyfile import new_vapid_keys
from app.services.notify import push_delivery, push_notifications
from app.services.notify.push_notifications import Target
from app.services.shared import clock
from db.tables import Delivery, Notice, PushSubscription
from tests import factories
from tests.conftest import ROOT
from tests.push_service import FakePushService

PEOPLE = 30
DEVICES_EACH = 10  # 300 deliveries
KILL_AFTER = 60  # messages answered 201 before the first process is killed
SUBJECT = "mailto:admin@localhost"

SENDER = textwrap.dedent("""
    import asyncio, json, os, sys
    from dataclasses import asdict

    from app import push_sender
    from app.services.notify import push_delivery, push_message
    from app.services.notify.push_endpoints import PushHosts
    from db.engine import bind, close_pool, make_engine, open_pool

    async def main():
        engine = make_engine(os.environ["DATABASE_URL"])
        bind(engine)
        await open_pool(engine)
        try:
            signer = push_message.VapidSigner(os.environ["VAPID_PRIVATE_KEY"], os.environ["VAPID_SUBJECT"])
            hosts = PushHosts(os.environ["PUSH_EXTRA_HOSTS"].split(","))  # the fake service, as Settings would list it
            async with push_sender.http_client() as client:
                print("STARTED", flush=True)
                stats = await push_delivery.run_once(client, signer, concurrency=int(os.environ["CONCURRENCY"]), hosts=hosts)
        finally:
            await close_pool(engine)
        print(json.dumps(asdict(stats)), flush=True)

    asyncio.run(main())
""")


def start_sender(script, database_url: str, vapid_private: str, concurrency: int, push_origin: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url, "VAPID_PRIVATE_KEY": vapid_private, "VAPID_SUBJECT": SUBJECT,
           "CONCURRENCY": str(concurrency), "PUSH_EXTRA_HOSTS": push_origin, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, str(script)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(10)


@pytest.fixture
def slow_service():
    with FakePushService(delay=0.02) as running:
        yield running


async def test_a_sender_killed_mid_run_and_started_again_delivers_each_message_once(
        slow_service, database_url, tmp_path):
    vapid_private, vapid_public = new_vapid_keys()
    people = [await factories.member(f"会員{i}", email="") for i in range(PEOPLE)]
    devices = {}
    rows = []
    for registered in people:
        for _ in range(DEVICES_EACH):
            device = slow_service.device(server_key=vapid_public)
            devices[device.endpoint] = device
            rows.append(PushSubscription(account=registered.account_id, **device.subscription(), device_label="端末",
                                         created_at=clock.now()))
    await PushSubscription.insert(*rows)
    notification = await push_notifications.create_notification(Target(topic="news"), "避難所のお知らせ", "勇払小学校を開放しています",
                                                   "/notices", None)
    script = tmp_path / "sender.py"
    script.write_text(SENDER, encoding="utf-8")

    # 1. The first sender fans out and starts sending; it is killed with SIGKILL mid-run.
    first = start_sender(script, database_url, vapid_private, concurrency=5, push_origin=slow_service.origin)
    try:
        reached = slow_service.when_delivered(KILL_AFTER).wait(30)  # a new process imports the app first: slow on a busy machine
        # Outcomes are written a batch every push_delivery.RECORD_EVERY_S: wait for the first batch, so that the kill
        # finds some deliveries recorded as sent and others not yet (300 take over a second to send).
        for _ in range(250):
            if not reached or await Delivery.count().where(Delivery.status == "sent"):
                break
            await asyncio.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        stop(first)
    assert reached, f"the first sender delivered nothing in time: {first.stderr.read()[-2000:]}"
    assert first.returncode == -signal.SIGKILL

    deliveries = await Delivery.select().where(Delivery.notification == notification)
    statuses = [r["status"] for r in deliveries]
    assert len(deliveries) == PEOPLE * DEVICES_EACH and await Notice.count() == PEOPLE
    assert 0 < statuses.count("sent") < len(deliveries), "killed too late to test anything"
    assert statuses.count("pushing") > 0
    now = clock.now()
    assert all(r["claimed_until"] > now for r in deliveries if r["status"] in ("sending", "pushing"))  # still leased
    accepted_at_kill = slow_service.delivered
    requested_at_kill = statuses.count("pushing")

    # 2. The leases run out (as if LEASE had passed) and a second sender finishes the work.
    await Delivery.update({Delivery.claimed_until: now - timedelta(seconds=1)}).where(
        Delivery.status.is_in(["sending", "pushing"]))
    second = start_sender(script, database_url, vapid_private, concurrency=20, push_origin=slow_service.origin)
    try:
        out, err = second.communicate(timeout=10)
    finally:
        stop(second)
    assert second.returncode == 0, err[-3000:]
    stats = json.loads(out.strip().splitlines()[-1])
    assert stats["failed"] == stats["retried"] == stats["expired"] == 0

    # 3. Every delivery is sent, or settled as interrupted if the dead process had requested it.
    deliveries = await Delivery.select().where(Delivery.notification == notification)
    interrupted = [r for r in deliveries if r["status"] == "failed"]
    assert {r["status"] for r in deliveries} == {"sent", "failed"}
    assert len(interrupted) == requested_at_kill
    assert {r["last_error"] for r in interrupted} == {push_delivery.INTERRUPTED}
    assert stats["sent"] == len(deliveries) - statuses.count("sent") - requested_at_kill
    # 4. No request was made twice for one delivery; every device of a sent delivery holds it.
    assert slow_service.delivered == sum(len(d.messages) for d in devices.values())
    assert slow_service.delivered - accepted_at_kill == stats["sent"]
    by_subscription = {r["id"]: r for r in await PushSubscription.select()}
    for row in deliveries:
        device = devices[by_subscription[row["subscription"]]["endpoint"]]
        if row["status"] == "sent":
            assert list(device.messages) == [f"d{row['id']}"], device.messages
            assert device.messages[f"d{row['id']}"]["notification"] == notification
        else:
            assert list(device.messages) in ([], [f"d{row['id']}"])  # accepted or not before the kill
    # What the crash cost: marked, then never requested — at most the rows marked ahead of the requests
    missed = [r for r in interrupted if not devices[by_subscription[r["subscription"]]["endpoint"]].messages]
    assert len(missed) <= 2 * push_delivery.MARK_AHEAD
    assert slow_service.errors == []
