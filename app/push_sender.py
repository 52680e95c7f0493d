"""Who runs the background rounds (app/jobs.py: surveys due, push, mail). Embedded: a task in the app process, woken when a notification is made and
every few seconds otherwise. Scaled out (REDIS_URL): SAQ worker processes (`python -m app worker`) share
the rounds through a Redis queue, and app processes only enqueue a round. Either way the delivery rows in
the database decide who sends what, so rounds may overlap safely."""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress

import aiohttp
from saq import CronJob, Queue, Worker

from app import jobs
from app.services.notify import push_delivery, push_message
from app.services.notify.push_endpoints import PushHosts
from app.settings import Settings
from db.engine import bind, close_pool, make_engine, open_pool

log = logging.getLogger("tsunagu.push")

IDLE_WAKE_S = 5.0
ROUND_JOB = "push_round"
# A round stops claiming after push_delivery.ROUND_S, then finishes its last requests (10 s each at most,
# see http_client) and records them: the job's timeout leaves room for that. Without one, SAQ cancels a job
# after 10 s, mid-send.
JOB_TIMEOUT_S = int(push_delivery.ROUND_S) + 60
# A running round touches its job every HEARTBEAT_S / 4 (see push_round); a job not touched for HEARTBEAT_S
# belonged to a worker that died, and the next sweep (every SWEEP_S) ends it, so its key blocks nothing.
HEARTBEAT_S = 60
SWEEP_S = 15
JOB_TTL_S = 600  # how long Redis keeps a finished job


def wake_key(at: float) -> str:
    """The key of the round an app process enqueues: one per second, so a burst of wake-ups adds one round,
    and a job left 'active' by a worker killed mid-round (same key: SAQ enqueues nothing) blocks the wake-ups
    of that second only. Rounds that overlap are safe: the delivery rows decide who sends what."""
    return f"{ROUND_JOB}:{int(at)}"


def http_client() -> aiohttp.ClientSession:
    """aiohttp, pywebpush's own async client: with a hundred pushes in flight it costs several times less
    CPU per request than httpx (bench/README.md, push_fanout.py). Made inside the running event loop."""
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=10, connect=5),
        connector=aiohttp.TCPConnector(limit=100, limit_per_host=100),
    )


def vapid_signer(settings: Settings) -> push_message.VapidSigner:
    return push_message.VapidSigner(settings.vapid_private_key, settings.vapid_subject)


class EmbeddedSender:
    """The sender as a task inside the one app process of an embedded installation."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._signer = vapid_signer(settings)
        self._hosts = PushHosts(settings.push_extra_hosts)
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._client: aiohttp.ClientSession | None = None
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._client = http_client()
        self._task = asyncio.create_task(self._loop(), name="push-sender")

    async def stop(self) -> None:
        # The flag as well as the cancel: a cancel that lands as the wake-up wait ends can be lost (asyncio in
        # Python 3.11), and the loop would then run on while stop() waits for it forever.
        self._stopping = True
        self._wake.set()
        if self._task:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        if self._client:
            await self._client.close()

    async def _loop(self) -> None:
        while not self._stopping:
            # Cleared before the round, not after: a wake() that comes during a round starts another one.
            self._wake.clear()
            try:
                await jobs.run_round(self._settings, self._client, self._signer, self._hosts)
            except Exception:  # a bad round must not end the sender: log it and try again on the next wake
                log.exception("background round failed")
            with suppress(TimeoutError):
                async with asyncio.timeout(IDLE_WAKE_S):
                    await self._wake.wait()


class QueuedSender:
    """In a scaled-out app process: a round is a job on the Redis queue, run by a worker process."""

    def __init__(self, settings: Settings) -> None:
        self._queue = Queue.from_url(settings.redis_url, name="tsunagu-push")
        self._pending: set[asyncio.Task] = set()

    def wake(self) -> None:
        task = asyncio.create_task(self._enqueue())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _enqueue(self) -> None:
        try:
            await self._queue.enqueue(ROUND_JOB, key=wake_key(time.time()), timeout=JOB_TIMEOUT_S,
                                      heartbeat=HEARTBEAT_S, ttl=JOB_TTL_S)
        except Exception:  # the cron job of the workers picks the work up anyway
            log.exception("could not enqueue a push round")

    async def start(self) -> None:
        await self._queue.connect()

    async def stop(self) -> None:
        if self._pending:
            await asyncio.wait(self._pending, timeout=5)
        await self._queue.disconnect()


def make_sender(settings: Settings) -> EmbeddedSender | QueuedSender:
    return QueuedSender(settings) if settings.redis_url else EmbeddedSender(settings)


# --- the worker process (python -m app worker) ---------------------------------------------------


async def push_round(ctx: dict) -> dict:
    beat = asyncio.create_task(_heartbeat(ctx.get("job")))
    try:
        return await jobs.run_round(ctx["settings"], ctx["client"], ctx["signer"], ctx.get("hosts"))
    finally:
        beat.cancel()


async def _heartbeat(job) -> None:
    for _beat in range(JOB_TIMEOUT_S):  # bounded: the job's timeout ends the round long before
        await asyncio.sleep(HEARTBEAT_S / 4)
        if job is not None:
            with suppress(Exception):  # a missed beat only makes a sweep more likely
                await job.update()


def worker(settings: Settings, concurrency: int = 2, burst: bool = False) -> Worker:
    """The SAQ worker; `burst` drains the queue and returns (for tests and one-off runs)."""
    engine = make_engine(settings.database_url)
    hosts = PushHosts(settings.push_extra_hosts)  # a bad PUSH_EXTRA_HOSTS stops the worker here, not each round

    async def startup(ctx: dict) -> None:
        bind(engine)
        await open_pool(engine)
        ctx["client"] = http_client()
        ctx["signer"] = vapid_signer(settings)
        ctx["settings"] = settings
        ctx["hosts"] = hosts

    async def shutdown(ctx: dict) -> None:
        await ctx["client"].close()
        await close_pool(engine)

    queue = Queue.from_url(settings.redis_url, name="tsunagu-push")
    return Worker(
        queue,
        functions=[(ROUND_JOB, push_round)],
        # Every minute at least: scheduled notifications and retries that are due without a new wake-up.
        cron_jobs=[CronJob(push_round, cron="* * * * *", unique=True, timeout=JOB_TIMEOUT_S, heartbeat=HEARTBEAT_S,
                           ttl=JOB_TTL_S)],
        concurrency=concurrency,
        startup=startup,
        shutdown=shutdown,
        burst=burst,
        timers={"sweep": SWEEP_S},
        dequeue_timeout=1.0 if burst else 0.0,
    )


def wake_sender(request) -> None:
    """Mail and pushes were queued: have the background round send them within seconds."""
    request.app.state.push_sender.wake()
