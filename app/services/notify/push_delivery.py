"""Sending push deliveries: claiming them with a lease, sending them concurrently, recording outcomes.

Deliveries are claimed by an UPDATE that chooses its own rows, with a lease, so several sender processes
share the work without sending one twice. Before its request goes out, a delivery is marked 'pushing' (a
few dozen per statement, ahead of the requests), and a delivery is never requested twice once marked: a
sender that dies mid-run leaves its unmarked claims ('sending') to be picked up again when their lease runs
out, and its marked ones ('pushing') to be recorded as interrupted, not sent again. A push the dead sender
made but could not record may thus be missed, never shown twice; the member still has the message in the
inbox, which is written at the fan-out. Each push also carries `Topic` = the delivery id, so the push
service keeps one copy whatever happens.

Only endpoints that `PushHosts` allows are requested (push_endpoints: the real push services and the
origins of PUSH_EXTRA_HOSTS; a push-service name that resolves to an internal address is not called), and
redirects are not followed.

What a push costs (bench/push_fanout.py): the encryption and the HTTP request, about equally; the
database work is a few statements per batch of deliveries, never one per delivery.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
from piccolo.table import Table

from app.services.notify import push_message
from app.services.notify.push_endpoints import PUSH_SERVICES, PushHosts
from app.services.notify.push_notifications import among, fan_out_due
from app.services.shared import clock
from db.tables import Delivery, PushSubscription

TTL_S = 24 * 60 * 60  # a notification older than a day is news no more
MAX_ATTEMPTS = 5
LEASE = timedelta(minutes=2)
CONCURRENCY = 100  # pushes in flight per sender: as many as app/push_sender.py's client keeps connections
BATCH = 500  # deliveries per claim: a claim and the load of its rows cost milliseconds each, whatever their size
MARK_AHEAD = 50  # deliveries marked 'pushing' per statement; what a crash can lose is at most this many plus those in flight
RECORD_EVERY_S = 0.2  # outcomes are written at least this often…
RECORD_BATCH = 500  # …or as soon as this many are waiting
INTERRUPTED = "interrupted: the sender stopped during the request; not sent again"
ROUND_S = 240.0  # a round claims nothing new after this long; app/push_sender.py gives its job more time than that


def backoff(attempts: int, retry_after: str | None, now: datetime | None = None) -> timedelta:
    """Retry-After when the push service gives one (seconds or an HTTP date), otherwise 30 s, 60 s, 120 s…
    capped at an hour."""
    if retry_after and retry_after.strip().isdigit():
        return timedelta(seconds=min(int(retry_after.strip()), 3600))
    if retry_after and now is not None:
        try:
            until = parsedate_to_datetime(retry_after)
        except (TypeError, ValueError):
            until = None
        if until is not None and until.tzinfo is not None:
            return min(max(until - now, timedelta(0)), timedelta(seconds=3600))
    return timedelta(seconds=min(30 * 2 ** max(0, attempts - 1), 3600))


async def claim(now: datetime, limit: int = BATCH, table: type[Table] = Delivery) -> list[int]:
    """Take up to `limit` due deliveries for this sender: ones whose sender's lease ran out, then queued ones.
    `table`: Delivery, or LineDelivery (line_delivery.py), which has the same columns for this.

    Each is one `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING id`: the statement chooses and takes its
    rows at once, so senders claiming together take different rows instead of racing for the same oldest
    ones (the loser of such a race got nothing and ended its round while work was left). SQLite runs one
    writing statement at a time; on PostgreSQL the sub-select locks what it chooses and skips rows another
    claim holds. One statement rather than a transaction of several, because on SQLite a transaction
    holds the write lock until a busy event loop comes back to each of its statements in turn, and the
    other senders' claims and outcomes wait for it.

    Unsorted, rather than one query with OR sorted by due time: each sub-select reads its status index
    (about oldest first) and stops at `limit`. Sorting read every queued delivery on every claim,
    quadratic in a large fan-out, and once analysed PostgreSQL chose to walk the due-time index past every
    delivery ever sent (200,000 rows of history: 38 ms per claim instead of 0.5 ms)."""
    async def take(due, count: int) -> list[int]:
        chosen = table.select(table.id).where(due).limit(count)
        if table._meta.db.engine_type != "sqlite":
            chosen = chosen.lock_rows("UPDATE", skip_locked=True)
        rows = await table.update(
            {table.status: "sending", table.claimed_until: now + LEASE, table.attempts: table.attempts + 1}
        ).where(table.id.is_in(chosen)).returning(table.id)
        return [row["id"] for row in rows]

    ids = await take((table.status == "sending") & (table.claimed_until < now), limit)
    if len(ids) < limit:
        ids += await take((table.status == "queued") & (table.next_attempt_at <= now), limit - len(ids))
    return ids


async def _mark_pushing(ids: list[int]) -> set[int]:
    """Mark claimed deliveries as about to be requested; returns those still ours (a claim whose lease ran
    out may have been taken by another sender, which then sends it instead)."""
    rows = await Delivery.update({Delivery.status: "pushing"}).where(
        among(Delivery.id, ids) & (Delivery.status == "sending")).returning(Delivery.id)
    return {row["id"] for row in rows}


async def settle_interrupted(now: datetime) -> int:
    """Deliveries a dead sender had marked 'pushing': their request may or may not have reached the push
    service, so they are recorded as failed rather than requested again. Returns how many."""
    rows = await Delivery.update({
        Delivery.status: "failed", Delivery.last_error: INTERRUPTED, Delivery.claimed_until: None,
    }).where((Delivery.status == "pushing") & (Delivery.claimed_until < now)).returning(Delivery.id)
    return len(rows)


async def _release(ids: list[int]) -> None:
    """Give back claimed deliveries this sender will not request (its round is over or cancelled): queued
    again, due now, the attempt not counted."""
    if ids:
        await Delivery.update({
            Delivery.status: "queued", Delivery.claimed_until: None, Delivery.attempts: Delivery.attempts - 1,
        }).where(among(Delivery.id, ids) & Delivery.status.is_in(["sending", "pushing"]))


@dataclass
class SendStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    expired: int = 0


async def send_claimed(ids: list[int], client: httpx.AsyncClient, signer: push_message.VapidSigner, concurrency: int = CONCURRENCY,
                       hosts: PushHosts = PUSH_SERVICES) -> SendStats:
    """Send what this sender claimed, with bounded concurrency, and record each outcome."""
    async def claimed() -> AsyncIterator[list[dict]]:
        yield await _load(ids)

    return await _pump(claimed(), client, signer, concurrency, hosts)


async def _load(ids: list[int]) -> list[dict]:
    """The claimed deliveries with what it takes to send them, in one query."""
    if not ids:
        return []
    return await Delivery.select(
        Delivery.id, Delivery.attempts, Delivery.subscription.id.as_alias("subscription_id"),
        Delivery.subscription.endpoint.as_alias("endpoint"), Delivery.subscription.p256dh.as_alias("p256dh"),
        Delivery.subscription.auth.as_alias("auth"), Delivery.notification.id.as_alias("notification_id"),
        Delivery.notification.title.as_alias("title"), Delivery.notification.body.as_alias("body"),
        Delivery.notification.url.as_alias("url"),
    ).where(among(Delivery.id, ids))


async def _pump(batches: AsyncIterator[list[dict]], client: httpx.AsyncClient, signer: push_message.VapidSigner,
                concurrency: int, hosts: PushHosts, deadline: float = float("inf")) -> SendStats:
    """`concurrency` workers send the rows of `batches` while a feeder marks the next MARK_AHEAD rows
    'pushing' and takes the next batch: the feeder is at most about MARK_AHEAD rows ahead, so marking and
    the next claim overlap the requests in flight instead of leaving the workers idle, and nothing is marked
    long before it is requested. Past `deadline` (event loop time) the feeder stops: the rows of its batch
    not yet marked go back to the queue."""
    recorder = _Recorder()
    rows: asyncio.Queue[dict | None] = asyncio.Queue(maxsize=MARK_AHEAD)
    unrequested: set[int] = set()  # marked, not taken by a worker: given back if the round stops early
    loop = asyncio.get_running_loop()

    async def feed() -> None:
        async with aclosing(batches):
            async for batch in batches:
                for start in range(0, len(batch), MARK_AHEAD):
                    if recorder.failed or loop.time() >= deadline:
                        await _release([left["id"] for left in batch[start:]])
                        break
                    chunk = batch[start:start + MARK_AHEAD]
                    ours = await _mark_pushing([row["id"] for row in chunk])
                    unrequested.update(ours)
                    for row in chunk:
                        if row["id"] in ours:
                            await rows.put(row)
                if recorder.failed or loop.time() >= deadline:
                    break
        # Only when all went well: if feeding fails or the round is cancelled, the task group cancels the
        # workers, and waiting here for room in the queue would wait for ever.
        for _ in range(concurrency):
            await rows.put(None)

    async def work() -> None:
        while (row := await rows.get()) is not None:
            if not recorder.failed:  # the recorder failed: send nothing more that could not be recorded
                unrequested.discard(row["id"])
                recorder.add(await _attempt(row, client, signer, hosts))

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(feed())
            for _ in range(concurrency):
                group.create_task(work())
    finally:
        try:
            stats = await recorder.close()
        finally:
            await _release(sorted(unrequested))
    return stats


class _Recorder:
    """Writes outcomes in the background, many per transaction (group commit): every RECORD_EVERY_S, or
    at once when RECORD_BATCH are waiting. One write per delivery made concurrent writers queue on
    SQLite's lock (tens of messages/s), and writing as soon as a few outcomes were in still made a
    transaction (and on SQLite a connection) per handful of messages. A crash loses only the outcomes not
    yet written; their deliveries stay 'pushing' and are settled as interrupted (`settle_interrupted`)."""

    def __init__(self) -> None:
        self.stats = SendStats()
        self._outcomes: list[_Outcome] = []
        self._due = asyncio.Event()
        self._closing = False
        self._task = asyncio.create_task(self._run())

    @property
    def failed(self) -> bool:
        return self._task.done()

    def add(self, outcome: _Outcome) -> None:
        self._outcomes.append(outcome)
        if len(self._outcomes) >= RECORD_BATCH:
            self._due.set()

    async def close(self) -> SendStats:
        """Write what is left; raises what made the recorder fail."""
        self._closing = True
        self._due.set()
        await self._task
        return self.stats

    async def _run(self) -> None:
        while not self._closing:
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._due.wait(), RECORD_EVERY_S)
            self._due.clear()
            while self._outcomes:
                batch, self._outcomes = self._outcomes, []
                await _record(batch, self.stats)


@dataclass
class _Outcome:
    row: dict
    status: str  # sent | expired | failed | retry
    error: str = ""
    retry_after: str | None = None
    gone: bool = False  # the push service says the subscription no longer exists


async def _attempt(row: dict, client: httpx.AsyncClient, signer: push_message.VapidSigner, hosts: PushHosts) -> _Outcome:
    if row["subscription_id"] is None:  # the device unsubscribed since the fan-out
        return _Outcome(row, "expired", "unsubscribed")
    notification = {"id": row["notification_id"], "title": row["title"], "body": row["body"], "url": row["url"]}
    try:
        refused = await hosts.refusal_to_send(row["endpoint"])
        if refused == "address":  # a push service's name pointing inside: not called; the name may be fixed
            return _Outcome(row, "failed", "address refused")
        if refused is not None:  # stored under an older rule or another PUSH_EXTRA_HOSTS: never called, dropped
            return _Outcome(row, "failed", f"endpoint refused ({refused})", gone=True)
        body = push_message.encrypt(row, push_message.payload_for(notification, row["id"]))
        headers = {
            "Authorization": signer.authorization(row["endpoint"]),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(TTL_S),
            "Urgency": "normal",
            "Topic": f"d{row['id']}",
        }
        status, retry_after = await _post(client, row["endpoint"], body, headers)
    except Exception as exc:  # network trouble or a key the encoder refuses: retry later, never crash the sender
        return _Outcome(row, "retry", f"{type(exc).__name__}")
    if status in (200, 201, 202):
        return _Outcome(row, "sent")
    if status in (404, 410):
        # The device is gone for good: drop the subscription so no one sends to it again.
        return _Outcome(row, "expired", f"HTTP {status}", gone=True)
    if status == 429 or status >= 500:
        return _Outcome(row, "retry", f"HTTP {status}", retry_after)
    # 400, 403, 413 (or a redirect): the message itself is refused; sending it again would not help
    return _Outcome(row, "failed", f"HTTP {status}")


async def _post(client, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str | None]:
    """POST with an httpx.AsyncClient, or with an aiohttp.ClientSession (pywebpush's own async client): with
    many requests in flight aiohttp costs several times less CPU per request (see bench/README.md)."""
    # Redirects are not followed: one would lead past the endpoint rule to any address, and a push service
    # answers, it does not redirect.
    if isinstance(client, httpx.AsyncClient):
        response = await client.post(url, content=body, headers=headers, follow_redirects=False)
        return response.status_code, response.headers.get("retry-after")
    async with client.post(url, data=body, headers=headers, allow_redirects=False) as response:
        await response.read()
        return response.status, response.headers.get("Retry-After")


async def _record(batch: list[_Outcome], stats: SendStats) -> None:
    """Write a batch of outcomes: one UPDATE per kind of outcome, not one per delivery.

    Each statement commits by itself, as a claim does (see `claim`): a transaction around them held
    SQLite's write lock across several turns of the busy event loop while the other senders waited.
    Every statement is whole; a sender that dies between two of them leaves the rest of its deliveries
    'pushing', as after any crash."""
    now = clock.now()
    finished: dict[tuple[str, str], list[int]] = {}
    retries: dict[tuple[str, timedelta], list[int]] = {}
    for outcome in batch:
        if outcome.status == "retry" and outcome.row["attempts"] >= MAX_ATTEMPTS:
            outcome.status = "failed"
        if outcome.status == "retry":
            delay = backoff(outcome.row["attempts"], outcome.retry_after, now)
            retries.setdefault((outcome.error[:200], delay), []).append(outcome.row["id"])
        else:
            finished.setdefault((outcome.status, outcome.error[:200]), []).append(outcome.row["id"])
    succeeded = [o.row["subscription_id"] for o in batch if o.status == "sent"]
    gone = [o.row["subscription_id"] for o in batch if o.gone]
    for (status, error), ids in finished.items():
        await Delivery.update({
            Delivery.status: status, Delivery.last_error: error, Delivery.claimed_until: None,
            Delivery.sent_at: now if status == "sent" else None,
        }).where(among(Delivery.id, ids))
    for (error, delay), ids in retries.items():
        await Delivery.update({
            Delivery.status: "queued", Delivery.last_error: error, Delivery.claimed_until: None,
            Delivery.next_attempt_at: now + delay,
        }).where(among(Delivery.id, ids))
    if succeeded:
        await PushSubscription.update({PushSubscription.last_success_at: now}).where(
            among(PushSubscription.id, succeeded))
    if gone:
        await PushSubscription.delete().where(among(PushSubscription.id, gone))
    for outcome in batch:
        if outcome.status == "retry":
            stats.retried += 1
        else:
            setattr(stats, outcome.status, getattr(stats, outcome.status) + 1)


async def run_once(client: httpx.AsyncClient, signer: push_message.VapidSigner, concurrency: int = CONCURRENCY,
                   hosts: PushHosts = PUSH_SERVICES, budget_s: float = ROUND_S) -> SendStats:
    """One round of the sender: fan out what is due, then claim and send, to the endpoints `hosts` allows
    (PushHosts(settings.push_extra_hosts)), until nothing is due or `budget_s` has passed. Past the budget
    nothing new is claimed: what was claimed is sent and recorded (each request is bounded by the client's
    timeout), what is left stays queued for the next round, so a round ends by itself well before its job's
    timeout would cancel it mid-send."""
    await fan_out_due()
    await settle_interrupted(clock.now())
    return await _pump(_due_batches(), client, signer, concurrency, hosts,
                       asyncio.get_running_loop().time() + budget_s)


async def _due_batches() -> AsyncIterator[list[dict]]:
    for _round in range(1000):  # bounded: 1000 batches is far more than one round ever meets
        rows = await _load(await claim(clock.now()))
        if not rows:
            return
        yield rows

