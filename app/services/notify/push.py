"""Web Push: subscriptions, preferences, targeted notifications, and durable delivery.

A notification becomes one `Notice` per person (the in-app inbox, so nothing is lost without push) and
one `Delivery` per device. Deliveries are claimed by an UPDATE that chooses its own rows, with a lease,
so several sender processes share the work without sending one twice, and a sender that dies mid-run
leaves its claims to expire and be picked up again. Each push carries `Topic` = the delivery id, so a
resend after such a crash replaces the first at the push service instead of showing twice.

What a push costs (bench/push_fanout.py): the encryption and the HTTP request, about equally; the
database work is a few statements per batch of deliveries, never one per delivery.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import http_ece
import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from piccolo.columns import Column
from piccolo.columns.combination import WhereRaw
from py_vapid import Vapid02
from pywebpush import WebPusher

from app.i18n import current_locale
from app.i18n import gettext as _
from app.services.shared import clock
from app.services.shared.refusals import Refusal
from db.engine import atomic, is_unique_violation
from db.tables import (
    Account,
    AreaFollow,
    Delivery,
    Member,
    Notice,
    Notification,
    Program,
    PushPreference,
    PushSubscription,
)

log = logging.getLogger("tsunagu.push")

TOPICS = ("programs", "events", "surveys", "news")
TTL_S = 24 * 60 * 60  # a notification older than a day is news no more
MAX_PAYLOAD_BYTES = 3000  # push services accept about 4 KB after encryption; stay well under
MAX_ATTEMPTS = 5
LEASE = timedelta(minutes=2)
VAPID_LIFETIME_S = 12 * 60 * 60
VAPID_RENEW_BEFORE_S = 60 * 60
CONCURRENCY = 100  # pushes in flight per sender: as many as app/push_sender.py's client keeps connections
BATCH = 500  # deliveries per claim: a claim and the load of its rows cost milliseconds each, whatever their size
RECORD_EVERY_S = 0.2  # outcomes are written at least this often…
RECORD_BATCH = 500  # …or as soon as this many are waiting


class PushRefused(Refusal):
    """A subscription or notification the push rules refuse."""


# --- subscriptions and preferences -------------------------------------------------------------


async def subscribe(account_id: int, endpoint: str, p256dh: str, auth: str, device_label: str) -> int:
    """Store this device's subscription; the same endpoint again (re-subscribe, another account) updates it."""
    parts = urlsplit(endpoint or "")
    if not parts.hostname or (
            parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1"))):
        raise PushRefused("bad_endpoint")
    if len(endpoint) > 1000 or not (20 <= len(p256dh) <= 200) or not (8 <= len(auth) <= 100):
        raise PushRefused("bad_keys")
    try:
        WebPusher({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}})
        # pywebpush only checks the length: the key must be a point on P-256 and the auth secret 16 bytes
        # (RFC 8291), or every message to this device would fail to encrypt or to decrypt.
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _b64url_decode(p256dh))
        if len(_b64url_decode(auth)) != 16:
            raise ValueError("auth secret is not 16 bytes")
    except Exception:  # pywebpush raises for keys that are not base64url EC points
        raise PushRefused("bad_keys") from None
    values = {
        PushSubscription.account: account_id, PushSubscription.p256dh: p256dh, PushSubscription.auth: auth,
        PushSubscription.device_label: device_label[:60],
    }
    updated = await PushSubscription.update(values).where(PushSubscription.endpoint == endpoint).returning(PushSubscription.id)
    if updated:
        return updated[0]["id"]
    try:
        rows = await PushSubscription.insert(
            PushSubscription(account=account_id, endpoint=endpoint, p256dh=p256dh, auth=auth,
                             device_label=device_label[:60], created_at=clock.now())
        ).returning(PushSubscription.id)
    except Exception as exc:
        if not is_unique_violation(exc):
            raise
        rows = await PushSubscription.update(values).where(PushSubscription.endpoint == endpoint).returning(PushSubscription.id)
    return rows[0]["id"]


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def unsubscribe(account_id: int, endpoint: str) -> bool:
    deleted = await PushSubscription.delete().where(
        (PushSubscription.account == account_id) & (PushSubscription.endpoint == endpoint)
    ).returning(PushSubscription.id)
    return bool(deleted)


async def renew_subscription(account_id: int, old_endpoint: str, endpoint: str, p256dh: str, auth: str) -> int:
    """The browser replaced a device's subscription: the new one keeps the old one's device label, and the
    old one goes. The old endpoint must be one of this account's devices, or PushRefused("not_found")."""
    old = await PushSubscription.select(PushSubscription.device_label).where(
        (PushSubscription.account == account_id) & (PushSubscription.endpoint == old_endpoint)
    ).first()
    if old is None:
        raise PushRefused("not_found")
    subscription_id = await subscribe(account_id, endpoint, p256dh, auth, old["device_label"])
    if endpoint != old_endpoint:
        await unsubscribe(account_id, old_endpoint)
    return subscription_id


async def list_devices(account_id: int) -> list[dict]:
    """The account's subscribed devices, the first one subscribed first."""
    return await PushSubscription.select(
        PushSubscription.id, PushSubscription.device_label, PushSubscription.created_at, PushSubscription.last_success_at,
    ).where(PushSubscription.account == account_id).order_by(PushSubscription.created_at)


async def has_devices(account_id: int) -> bool:
    return await PushSubscription.exists().where(PushSubscription.account == account_id)


@dataclass
class Preferences:
    programs: str = "followed"  # followed | all | none
    events: bool = True
    surveys: bool = True
    news: bool = True


async def preferences(account_id: int) -> Preferences:
    row = await PushPreference.select().where(PushPreference.account == account_id).first()
    if row is None:
        return Preferences()
    return Preferences(programs=row["programs"], events=row["events"], surveys=row["surveys"], news=row["news"])


async def save_preferences(account_id: int, prefs: Preferences) -> None:
    if prefs.programs not in ("followed", "all", "none"):
        raise PushRefused("bad_preference")
    values = {PushPreference.programs: prefs.programs, PushPreference.events: prefs.events,
              PushPreference.surveys: prefs.surveys, PushPreference.news: prefs.news}
    if not await PushPreference.update(values).where(PushPreference.account == account_id).returning(PushPreference.id):
        try:
            await PushPreference.insert(PushPreference(account=account_id, **{c._meta.name: v for c, v in values.items()}))
        except Exception as exc:
            if not is_unique_violation(exc):
                raise
            await PushPreference.update(values).where(PushPreference.account == account_id)


# --- targeting ---------------------------------------------------------------------------------


@dataclass
class Target:
    """Who a notification is for. Empty filters mean everyone; filters narrow, they never widen."""

    topic: str = "news"
    area_ids: list[int] = field(default_factory=list)  # members following any of these areas
    tiers: list[str] = field(default_factory=list)
    prefectures: list[str] = field(default_factory=list)
    account_ids: list[int] | None = None  # an explicit list (survey targets, a test to oneself)

    def to_json(self) -> dict:
        return {"topic": self.topic, "areas": self.area_ids, "tiers": self.tiers, "prefectures": self.prefectures,
                "accounts": self.account_ids}


def _wants(prefs: Preferences, topic: str, follows_area: bool) -> bool:
    """Whether a person wants a push on this topic (the inbox gets everything addressed to them)."""
    if topic == "programs":
        return prefs.programs == "all" or (prefs.programs == "followed" and follows_area)
    return {"events": prefs.events, "surveys": prefs.surveys, "news": prefs.news}.get(topic, True)


def _among(column: Column, ids: list[int]) -> WhereRaw:
    """`column IN ids` with the ids as one parameter: a JSON array on SQLite, an integer[] on PostgreSQL.
    One parameter per id would pass asyncpg's limit of 32,767 with a large audience, and Piccolo's
    `is_in` converts every value in Python, a cost the sender pays on every batch."""
    name = column._meta.get_full_name(with_alias=False)
    if column._meta.table._meta.db.engine_type == "sqlite":
        return WhereRaw(f"{name} IN (SELECT value FROM json_each({{}}))", json.dumps(ids))
    return WhereRaw(f"{name} = ANY({{}}::integer[])", ids)


async def recipients(target: Target) -> list[int]:
    """Accounts the notification is addressed to (active members matching every filter)."""

    def members_query():
        query = Member.select(Member.id, Member.account.id.as_alias("account")).where(Member.account.status == "active")
        if target.tiers:
            query = query.where(Member.tier.is_in(target.tiers))
        if target.prefectures:
            query = query.where(Member.home_prefecture.is_in(target.prefectures))
        return query

    staff: list[int] = []
    if target.account_ids is None:
        members = await members_query()
    else:
        named = sorted(set(target.account_ids))
        members = await members_query().where(_among(Member.account, named))
        # Named accounts may be staff (a new inquiry for the desk): they have no member profile to filter.
        if not (target.tiers or target.prefectures or target.area_ids):
            staff = [row["id"] for row in await Account.select(Account.id).where(
                _among(Account.id, named) & (Account.role != "member") & (Account.status == "active"))]
    if target.area_ids:
        following = {row["member"] for row in await AreaFollow.select(AreaFollow.member).where(
            AreaFollow.area.is_in(target.area_ids))}
        # New programs also reach those who chose "all programs", followers or not.
        if target.topic == "programs":
            everything = {row["account"] for row in await PushPreference.select(PushPreference.account).where(
                PushPreference.programs == "all")}
            members = [m for m in members if m["id"] in following or m["account"] in everything]
        else:
            members = [m for m in members if m["id"] in following]
    return [m["account"] for m in members] + staff


async def reach(target: Target) -> tuple[int, int]:
    """(people, devices) a notification would reach by push: the composer's preview."""
    people = await recipients(target)
    devices = await _push_devices(target, people)
    return len(people), len(devices)


async def _push_devices(target: Target, people: list[int]) -> list[int]:
    if not people:
        return []
    prefs = {row["account"]: Preferences(row["programs"], row["events"], row["surveys"], row["news"])
             for row in await PushPreference.select().where(_among(PushPreference.account, people))}
    following: set[int] = set()
    if target.area_ids:
        rows = await AreaFollow.select(AreaFollow.member.account.as_alias("account")).where(
            AreaFollow.area.is_in(target.area_ids))
        following = {row["account"] for row in rows}
    wanted = [a for a in people if target.topic == "test" or _wants(prefs.get(a, Preferences()), target.topic,
                                                                    not target.area_ids or a in following)]
    if not wanted:
        return []
    rows = await PushSubscription.select(PushSubscription.id).where(_among(PushSubscription.account, wanted))
    return [row["id"] for row in rows]


TITLE_MAX = 120


async def announce_program(program_id: int, created_by: int | None, locale: str) -> bool:
    """Tell the members following the program's area (and those who want every program) that it is out.

    Called once a program is approved. Once per program: a program published again after an edit is not
    announced twice. The text is in the site's language (`locale`), not the approver's. True if queued.
    """
    from app.services.programs import programs  # programs tell members through notify; this is the one way back

    program = await Program.select(Program.id, Program.kind, Program.title, Program.summary, Program.area,
                                   Program.status).where(Program.id == program_id).first()
    if program is None or program["status"] != "published":
        return False
    url = programs.program_path(program_id)
    topic = "events" if program["kind"] == "event" else "programs"
    if await Notification.exists().where((Notification.url == url) & Notification.topic.is_in(["programs", "events"])):
        return False
    token = current_locale.set(locale)
    try:
        title = _("New program: %(title)s", title=program["title"])
        if len(title) > TITLE_MAX:  # a notification title holds less than a program title and its prefix
            cut = program["title"][: len(program["title"]) - (len(title) - TITLE_MAX) - 1] + "…"
            title = _("New program: %(title)s", title=cut)
    finally:
        current_locale.reset(token)
    await create_notification(Target(topic=topic, area_ids=[program["area"]]), title, program["summary"], url, created_by)
    return True


async def create_notification(target: Target, title: str, body: str, url: str, created_by: int | None,
                              send_at: datetime | None = None) -> int:
    payload = json.dumps({"title": title, "body": body, "url": url, "id": 0}, ensure_ascii=False).encode()
    if not title.strip() or len(title) > TITLE_MAX or len(body) > 500 or len(url) > 500 or len(payload) > MAX_PAYLOAD_BYTES:
        raise PushRefused("too_long" if title.strip() else "title_missing")
    now = clock.now()
    rows = await Notification.insert(
        Notification(topic=target.topic, title=title.strip(), body=body.strip(), url=url, target=target.to_json(),
                     created_by=created_by, created_at=now, send_at=send_at or now)
    ).returning(Notification.id)
    return rows[0]["id"]


async def fan_out_due(now: datetime | None = None) -> int:
    """Turn notifications whose time has come into inbox notices and queued deliveries. Idempotent:
    the status flips once (conditional UPDATE) and deliveries are unique per device."""
    now = now or clock.now()
    due = await Notification.select().where(
        (Notification.status == "scheduled") & (Notification.send_at <= now)
    ).output(load_json=True)
    done = 0
    for notification in due:
        raw = notification["target"]
        target = Target(topic=notification["topic"], area_ids=raw.get("areas") or [], tiers=raw.get("tiers") or [],
                        prefectures=raw.get("prefectures") or [], account_ids=raw.get("accounts"))
        people = await recipients(target)
        devices = await _push_devices(target, people)
        async with atomic(Notification._meta.db):
            claimed = await Notification.update(
                {Notification.status: "fanned_out", Notification.recipients: len(people)}
            ).where((Notification.id == notification["id"]) & (Notification.status == "scheduled")).returning(Notification.id)
            if not claimed:
                continue  # another process got there first
            await _insert_each(Notice.account, people, {
                Notice.title: notification["title"], Notice.body: notification["body"], Notice.url: notification["url"],
                Notice.created_at: now})
            await _insert_each(Delivery.subscription, devices, {
                Delivery.notification: notification["id"], Delivery.status: "queued", Delivery.attempts: 0,
                Delivery.next_attempt_at: now, Delivery.last_error: ""})
        done += 1
    return done


async def _insert_each(column: Column, ids: list[int], same: dict[Column, object]) -> None:
    """One row per id in `column`, every other value the same: one INSERT … SELECT with the ids as a single
    parameter (a JSON array on SQLite, an integer[] on PostgreSQL). Building one Piccolo object per row
    cost ≈ 2 s per 10,000 deliveries, and one parameter per value would pass asyncpg's 32,767 limit."""
    if not ids:
        return
    table = column._meta.table
    names = ", ".join(c._meta.db_column_name for c in (column, *same))
    if table._meta.db.engine_type == "sqlite":
        sql = f"SELECT value, {', '.join('{}' for _ in same)} FROM json_each({{}})"
        args = [*same.values(), json.dumps(ids)]
    else:  # PostgreSQL infers no types in a SELECT list: cast each parameter to its column's type
        sql = f"SELECT unnest({{}}::integer[]), {', '.join(f'{{}}::{c.column_type}' for c in same)}"
        args = [ids, *same.values()]
    await table.raw(f"INSERT INTO {table._meta.tablename} ({names}) {sql}", *args)


# --- sending -----------------------------------------------------------------------------------


class VapidSigner:
    """Signs one VAPID header per push-service origin and reuses it until close to its expiry
    (pywebpush would sign for every message, and it changes the claims dict it is given)."""

    def __init__(self, private_key_b64: str, subject: str) -> None:
        self._vapid = Vapid02.from_raw(private_key_b64.encode())
        self._subject = subject
        self._headers: dict[str, tuple[float, str]] = {}

    def authorization(self, endpoint: str, now_s: float | None = None) -> str:
        now_s = time.time() if now_s is None else now_s
        parts = urlsplit(endpoint)
        origin = f"{parts.scheme}://{parts.netloc}"
        cached = self._headers.get(origin)
        if cached and cached[0] - now_s > VAPID_RENEW_BEFORE_S:
            return cached[1]
        expires = int(now_s) + VAPID_LIFETIME_S
        header = self._vapid.sign({"aud": origin, "exp": expires, "sub": self._subject})["Authorization"]
        self._headers[origin] = (expires, header)
        return header


RECORD_SIZE = 4096  # RFC 8188 record size; a push message is one record (MAX_PAYLOAD_BYTES keeps it so)


def encrypt(subscription: dict, payload: bytes) -> bytes:
    """The body of a push: RFC 8291 message encryption as one aes128gcm record (RFC 8188), with a new
    ephemeral ECDH key and a new salt for every message.

    http_ece is the encoder pywebpush's `WebPusher.encode` calls; calling it directly skips the wrapper's
    deep copy of the subscription and its repeated serialising of the ephemeral key, ≈ 40 µs of the
    ≈ 230 µs per message, and encryption is most of a sender's work (bench/README.md)."""
    if len(payload) + 17 > RECORD_SIZE:  # the padding delimiter and the GCM tag must fit the one record
        raise ValueError("payload too large for one record")
    return http_ece.encrypt(
        payload, salt=os.urandom(16), private_key=ec.generate_private_key(ec.SECP256R1()),
        dh=_b64url_decode(subscription["p256dh"]), auth_secret=_b64url_decode(subscription["auth"]),
        version="aes128gcm", rs=RECORD_SIZE,
    )


def payload_for(notification: dict, delivery_id: int) -> bytes:
    """Ids plus a fallback title and body: the worker can show it even if it cannot ask the server."""
    return json.dumps({
        "id": delivery_id, "notification": notification["id"], "title": notification["title"],
        "body": notification["body"], "url": notification["url"] or "/inbox", "tag": f"n{notification['id']}",
    }, ensure_ascii=False).encode("utf-8")


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


async def claim(now: datetime, limit: int = BATCH) -> list[int]:
    """Take up to `limit` due deliveries for this sender: ones whose sender's lease ran out, then queued ones.

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
        chosen = Delivery.select(Delivery.id).where(due).limit(count)
        if Delivery._meta.db.engine_type != "sqlite":
            chosen = chosen.lock_rows("UPDATE", skip_locked=True)
        rows = await Delivery.update(
            {Delivery.status: "sending", Delivery.claimed_until: now + LEASE, Delivery.attempts: Delivery.attempts + 1}
        ).where(Delivery.id.is_in(chosen)).returning(Delivery.id)
        return [row["id"] for row in rows]

    ids = await take((Delivery.status == "sending") & (Delivery.claimed_until < now), limit)
    if len(ids) < limit:
        ids += await take((Delivery.status == "queued") & (Delivery.next_attempt_at <= now), limit - len(ids))
    return ids


@dataclass
class SendStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    expired: int = 0


async def send_claimed(ids: list[int], client: httpx.AsyncClient, signer: VapidSigner, concurrency: int = CONCURRENCY) -> SendStats:
    """Send what this sender claimed, with bounded concurrency, and record each outcome."""
    async def claimed() -> AsyncIterator[list[dict]]:
        yield await _load(ids)

    return await _pump(claimed(), client, signer, concurrency)


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
    ).where(_among(Delivery.id, ids))


async def _pump(batches: AsyncIterator[list[dict]], client: httpx.AsyncClient, signer: VapidSigner,
                concurrency: int) -> SendStats:
    """`concurrency` workers send the rows of `batches` while a feeder takes the next batch: the feeder is
    at most `concurrency` rows ahead, so the next claim overlaps the end of the last batch instead of
    leaving the workers idle, and nothing is claimed long before it can be sent."""
    recorder = _Recorder()
    rows: asyncio.Queue[dict | None] = asyncio.Queue(maxsize=concurrency)

    async def feed() -> None:
        async with aclosing(batches):
            async for batch in batches:
                for row in batch:
                    await rows.put(row)
                if recorder.failed:
                    break
        # Only when all went well: if feeding fails or the round is cancelled, the task group cancels the
        # workers, and waiting here for room in the queue would wait for ever.
        for _ in range(concurrency):
            await rows.put(None)

    async def work() -> None:
        while (row := await rows.get()) is not None:
            if not recorder.failed:  # the recorder failed: leave the rest to the lease, send nothing unrecorded
                recorder.add(await _attempt(row, client, signer))

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(feed())
            for _ in range(concurrency):
                group.create_task(work())
    finally:
        stats = await recorder.close()
    return stats


class _Recorder:
    """Writes outcomes in the background, many per transaction (group commit): every RECORD_EVERY_S, or
    at once when RECORD_BATCH are waiting. One write per delivery made concurrent writers queue on
    SQLite's lock (tens of messages/s), and writing as soon as a few outcomes were in still made a
    transaction (and on SQLite a connection) per handful of messages. A crash loses only the outcomes not
    yet written; their deliveries are sent again with the same Topic once their lease runs out."""

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


async def _attempt(row: dict, client: httpx.AsyncClient, signer: VapidSigner) -> _Outcome:
    if row["subscription_id"] is None:  # the device unsubscribed since the fan-out
        return _Outcome(row, "expired", "unsubscribed")
    notification = {"id": row["notification_id"], "title": row["title"], "body": row["body"], "url": row["url"]}
    try:
        body = encrypt(row, payload_for(notification, row["id"]))
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
    # 400, 403, 413: the message itself is refused; sending it again would not help
    return _Outcome(row, "failed", f"HTTP {status}")


async def _post(client, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str | None]:
    """POST with an httpx.AsyncClient, or with an aiohttp.ClientSession (pywebpush's own async client): with
    many requests in flight aiohttp costs several times less CPU per request (see bench/README.md)."""
    if isinstance(client, httpx.AsyncClient):
        response = await client.post(url, content=body, headers=headers)
        return response.status_code, response.headers.get("retry-after")
    async with client.post(url, data=body, headers=headers) as response:
        await response.read()
        return response.status, response.headers.get("Retry-After")


async def _record(batch: list[_Outcome], stats: SendStats) -> None:
    """Write a batch of outcomes: one UPDATE per kind of outcome, not one per delivery.

    Each statement commits by itself, as a claim does (see `claim`): a transaction around them held
    SQLite's write lock across several turns of the busy event loop while the other senders waited.
    Every statement is whole; a sender that dies between two of them leaves the rest of its deliveries
    leased, and they are sent again with the same Topic, as after any crash."""
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
        }).where(_among(Delivery.id, ids))
    for (error, delay), ids in retries.items():
        await Delivery.update({
            Delivery.status: "queued", Delivery.last_error: error, Delivery.claimed_until: None,
            Delivery.next_attempt_at: now + delay,
        }).where(_among(Delivery.id, ids))
    if succeeded:
        await PushSubscription.update({PushSubscription.last_success_at: now}).where(
            _among(PushSubscription.id, succeeded))
    if gone:
        await PushSubscription.delete().where(_among(PushSubscription.id, gone))
    for outcome in batch:
        if outcome.status == "retry":
            stats.retried += 1
        else:
            setattr(stats, outcome.status, getattr(stats, outcome.status) + 1)


async def run_once(client: httpx.AsyncClient, signer: VapidSigner, concurrency: int = CONCURRENCY) -> SendStats:
    """One round of the sender: fan out what is due, then claim and send until nothing is due."""
    await fan_out_due()
    return await _pump(_due_batches(), client, signer, concurrency)


async def _due_batches() -> AsyncIterator[list[dict]]:
    for _round in range(1000):  # bounded: 1000 batches is far more than one round ever meets
        rows = await _load(await claim(clock.now()))
        if not rows:
            return
        yield rows


async def recent_notifications(limit: int) -> list[dict]:
    """The newest notifications (tests sent by members left out), each with its delivery `counts` and how many
    deliveries are still `waiting` (queued or being sent)."""
    rows = await Notification.select(
        Notification.id, Notification.topic, Notification.title, Notification.url, Notification.created_at,
        Notification.send_at, Notification.status, Notification.recipients,
        Notification.created_by.display_name.as_alias("author"),
    ).where(Notification.topic != "test").order_by(Notification.id, ascending=False).limit(limit)
    notifications = []
    for row in rows:
        counts = await notification_stats(row["id"])
        notifications.append({**row, "counts": counts, "waiting": counts["queued"] + counts["sending"]})
    return notifications


async def notification_stats(notification_id: int) -> dict[str, int]:
    rows = await Delivery.select(Delivery.status).where(Delivery.notification == notification_id)
    counts = {status: 0 for status in ("queued", "sending", "sent", "failed", "expired")}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts
