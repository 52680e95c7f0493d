"""Web Push: subscriptions, preferences, targeted notifications, and durable delivery.

A notification becomes one `Notice` per person (the in-app inbox, so nothing is lost without push) and
one `Delivery` per device. Deliveries are claimed with a conditional UPDATE and a lease, so several
sender processes share the work without sending one twice, and a sender that dies mid-run leaves its
claims to expire and be picked up again. Each push carries `Topic` = the delivery id, so a resend after
such a crash replaces the first at the push service instead of showing twice.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from pywebpush import WebPusher

from app.services import clock
from db.engine import atomic, is_unique_violation
from db.tables import Account, AreaFollow, Delivery, Member, Notice, Notification, PushPreference, PushSubscription

log = logging.getLogger("tsunagu.push")

TOPICS = ("programs", "events", "surveys", "news")
TTL_S = 24 * 60 * 60  # a notification older than a day is news no more
MAX_PAYLOAD_BYTES = 3000  # push services accept about 4 KB after encryption; stay well under
MAX_ATTEMPTS = 5
LEASE = timedelta(minutes=2)
VAPID_LIFETIME_S = 12 * 60 * 60
VAPID_RENEW_BEFORE_S = 60 * 60
BATCH = 200


class PushRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


IN_CHUNK = 5000  # ids per IN (...): PostgreSQL (asyncpg) takes at most 32,767 parameters per query


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[start:start + IN_CHUNK] for start in range(0, len(ids), IN_CHUNK)]


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
        members = []
        for chunk in _chunks(sorted(set(target.account_ids))) or [[-1]]:
            members += await members_query().where(Member.account.id.is_in(chunk))
            # Named accounts may be staff (a new inquiry for the desk): they have no member profile to filter.
            if not (target.tiers or target.prefectures or target.area_ids):
                staff += [row["id"] for row in await Account.select(Account.id).where(
                    Account.id.is_in(chunk) & (Account.role != "member") & (Account.status == "active"))]
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
             for chunk in _chunks(people)
             for row in await PushPreference.select().where(PushPreference.account.is_in(chunk))}
    following: set[int] = set()
    if target.area_ids:
        rows = await AreaFollow.select(AreaFollow.member.account.as_alias("account")).where(
            AreaFollow.area.is_in(target.area_ids))
        following = {row["account"] for row in rows}
    wanted = [a for a in people if target.topic == "test" or _wants(prefs.get(a, Preferences()), target.topic,
                                                                    not target.area_ids or a in following)]
    if not wanted:
        return []
    devices: list[int] = []
    for chunk in _chunks(wanted):
        rows = await PushSubscription.select(PushSubscription.id).where(PushSubscription.account.is_in(chunk))
        devices += [row["id"] for row in rows]
    return devices


async def create_notification(target: Target, title: str, body: str, url: str, created_by: int | None,
                              send_at: datetime | None = None) -> int:
    payload = json.dumps({"title": title, "body": body, "url": url, "id": 0}, ensure_ascii=False).encode()
    if not title.strip() or len(title) > 120 or len(body) > 500 or len(url) > 500 or len(payload) > MAX_PAYLOAD_BYTES:
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
            for chunk in range(0, len(people), 500):
                await Notice.insert(*[
                    Notice(account=a, title=notification["title"], body=notification["body"], url=notification["url"],
                           created_at=now) for a in people[chunk:chunk + 500]
                ])
            for chunk in range(0, len(devices), 500):
                await Delivery.insert(*[
                    Delivery(notification=notification["id"], subscription=s, next_attempt_at=now)
                    for s in devices[chunk:chunk + 500]
                ])
        done += 1
    return done


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


def encrypt(subscription: dict, payload: bytes) -> bytes:
    pusher = WebPusher({"endpoint": subscription["endpoint"],
                        "keys": {"p256dh": subscription["p256dh"], "auth": subscription["auth"]}})
    return pusher.encode(payload, "aes128gcm")["body"]


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
    """Take up to `limit` due deliveries for this sender: queued ones, or ones whose sender's lease ran out."""
    candidates = await Delivery.select(Delivery.id).where(
        ((Delivery.status == "queued") & (Delivery.next_attempt_at <= now))
        | ((Delivery.status == "sending") & (Delivery.claimed_until < now))
    ).order_by(Delivery.next_attempt_at).limit(limit)
    if not candidates:
        return []
    ids = [row["id"] for row in candidates]
    claimed = await Delivery.update(
        {Delivery.status: "sending", Delivery.claimed_until: now + LEASE, Delivery.attempts: Delivery.attempts + 1}
    ).where(
        Delivery.id.is_in(ids) & (
            ((Delivery.status == "queued") & (Delivery.next_attempt_at <= now))
            | ((Delivery.status == "sending") & (Delivery.claimed_until < now))
        )
    ).returning(Delivery.id)
    return [row["id"] for row in claimed]


@dataclass
class SendStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    expired: int = 0


async def send_claimed(ids: list[int], client: httpx.AsyncClient, signer: VapidSigner, concurrency: int = 50) -> SendStats:
    """Send what this sender claimed, with bounded concurrency, and record each outcome.

    Outcomes are written by one recorder task, a batch at a time in one transaction (group commit): while
    it writes, the next outcomes gather. One write per delivery made concurrent writers queue on
    SQLite's lock (tens of messages/s); a crash still loses only the outcomes not yet written, whose
    deliveries are sent again with the same Topic once their lease runs out."""
    stats = SendStats()
    if not ids:
        return stats
    rows = await Delivery.select(
        Delivery.id, Delivery.attempts, Delivery.subscription.id.as_alias("subscription_id"),
        Delivery.subscription.endpoint.as_alias("endpoint"), Delivery.subscription.p256dh.as_alias("p256dh"),
        Delivery.subscription.auth.as_alias("auth"), Delivery.notification.id.as_alias("notification_id"),
        Delivery.notification.title.as_alias("title"), Delivery.notification.body.as_alias("body"),
        Delivery.notification.url.as_alias("url"),
    ).where(Delivery.id.is_in(ids))
    gate = asyncio.Semaphore(concurrency)
    outcomes: list[_Outcome] = []
    ready = asyncio.Event()
    sending = True

    async def recorder() -> None:
        while True:
            await ready.wait()
            ready.clear()
            while outcomes:
                batch = outcomes[:]
                del outcomes[:]
                await _record(batch, stats)
            if not sending:
                return

    async def one(row: dict) -> None:
        async with gate:
            if recording.done():  # the recorder failed: leave the rest to the lease, send nothing unrecorded
                return
            outcomes.append(await _attempt(row, client, signer))
            ready.set()

    recording = asyncio.create_task(recorder())
    try:
        await asyncio.gather(*[one(row) for row in rows])
    finally:
        sending = False
        ready.set()
        await recording
    return stats


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
    """Write a batch of outcomes in one transaction: one UPDATE per kind of outcome, not one per delivery."""
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
    async with atomic(Delivery._meta.db):
        for (status, error), ids in finished.items():
            await Delivery.update({
                Delivery.status: status, Delivery.last_error: error, Delivery.claimed_until: None,
                Delivery.sent_at: now if status == "sent" else None,
            }).where(Delivery.id.is_in(ids))
        for (error, delay), ids in retries.items():
            await Delivery.update({
                Delivery.status: "queued", Delivery.last_error: error, Delivery.claimed_until: None,
                Delivery.next_attempt_at: now + delay,
            }).where(Delivery.id.is_in(ids))
        if succeeded:
            await PushSubscription.update({PushSubscription.last_success_at: now}).where(
                PushSubscription.id.is_in(succeeded))
        if gone:
            await PushSubscription.delete().where(PushSubscription.id.is_in(gone))
    for outcome in batch:
        if outcome.status == "retry":
            stats.retried += 1
        else:
            setattr(stats, outcome.status, getattr(stats, outcome.status) + 1)


async def run_once(client: httpx.AsyncClient, signer: VapidSigner, concurrency: int = 50) -> SendStats:
    """One round of the sender: fan out what is due, then claim and send until nothing is due."""
    await fan_out_due()
    total = SendStats()
    for _round in range(1000):  # bounded: 1000 batches is far more than one round ever meets
        ids = await claim(clock.now())
        if not ids:
            break
        stats = await send_claimed(ids, client, signer, concurrency)
        for name in ("sent", "retried", "failed", "expired"):
            setattr(total, name, getattr(total, name) + getattr(stats, name))
    return total


async def notification_stats(notification_id: int) -> dict[str, int]:
    rows = await Delivery.select(Delivery.status).where(Delivery.notification == notification_id)
    counts = {status: 0 for status in ("queued", "sending", "sent", "failed", "expired")}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts
