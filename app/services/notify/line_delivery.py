"""Sending notifications to linked LINE accounts: the LineDelivery rows the fan-out queued (push_notifications),
claimed with a lease as push deliveries are (push_delivery.claim), sent as a text message with the Messaging
API's push message, each outcome recorded.

Exactly once without marking a delivery before its request (as push_delivery must): every push carries
`X-Line-Retry-Key`, a UUID made from the delivery, and LINE carries out a request with a given key once,
answering 409 with `X-Line-Accepted-Request-Id` to any later one (developers.line.biz, "Retry failed API
requests"). A sender that dies after its request but before recording it leaves the delivery claimed; once
the lease runs out another round sends it again with the same key, LINE refuses the copy, and the 409 is
recorded as sent. The key is asked again within minutes (the lease, then backoff capped at an hour), well
inside the time LINE remembers it.

429 waits for its Retry-After, 5xx and network trouble are retried with push's backoff up to MAX_ATTEMPTS,
another 4xx fails with LINE's reason recorded. A link the member blocked (unfollow) or removed is skipped, and
so is a notification older than push's TTL: LINE turned off for a while does not send last week's news later.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from app.services.notify import line_api, notices
from app.services.notify.push_delivery import MAX_ATTEMPTS, ROUND_S, TTL_S, backoff, claim
from app.services.notify.push_notifications import among
from app.services.shared import clock
from app.settings import Line
from db.tables import LineDelivery

if TYPE_CHECKING:
    from linebot.v3.messaging import ApiException, AsyncMessagingApi

CONCURRENCY = 20  # requests in flight; LINE takes 2,000 push requests a second per channel
BATCH = 200
ACCEPTED = "x-line-accepted-request-id"  # on a 409: the request with this retry key was carried out before


@dataclass
class LineStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0


@dataclass
class _Outcome:
    row: dict
    status: str  # sent | skipped | failed | retry
    error: str = ""
    retry_after: str | None = None


def retry_key(delivery_id: int, created_at: datetime, base_url: str) -> str:
    """The delivery's X-Line-Retry-Key: the same at every attempt, and never another installation's or an
    earlier database's (a staging site on the same channel, ids that start again after a reset)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{base_url}/line-delivery/{delivery_id}/{created_at.isoformat()}"))


def message_text(row: dict, base_url: str) -> str:
    parts = [row["title"], row["body"], notices.absolute(base_url, row["url"]) if row["url"] else ""]
    return "\n\n".join(part for part in parts if part)


async def _load(ids: list[int]) -> list[dict]:
    if not ids:
        return []
    return await LineDelivery.select(
        LineDelivery.id, LineDelivery.attempts, LineDelivery.line_link.line_user_id.as_alias("line_user_id"),
        LineDelivery.line_link.status.as_alias("link_status"), LineDelivery.notification.title.as_alias("title"),
        LineDelivery.notification.body.as_alias("body"), LineDelivery.notification.url.as_alias("url"),
        LineDelivery.notification.created_at.as_alias("created_at"),
        LineDelivery.notification.send_at.as_alias("send_at"),
    ).where(among(LineDelivery.id, ids))


def _refusal(exc: ApiException) -> str:
    """LINE's reason for refusing a request, as short as the column."""
    try:
        message = json.loads(exc.body or "{}").get("message", "")
    except (ValueError, AttributeError):
        message = ""
    return f"HTTP {exc.status} {message}".strip()


async def _attempt(api: AsyncMessagingApi, row: dict, base_url: str, now: datetime) -> _Outcome:
    if row["line_user_id"] is None:
        return _Outcome(row, "skipped", "unlinked")
    if row["link_status"] != "linked":
        return _Outcome(row, "skipped", "blocked")
    if row["send_at"] < now - timedelta(seconds=TTL_S):
        return _Outcome(row, "skipped", "expired")
    messaging = line_api.sdk()
    request = messaging.PushMessageRequest(to=row["line_user_id"], messages=[line_api.text_message(message_text(row, base_url))])
    try:
        await api.push_message(request, x_line_retry_key=retry_key(row["id"], row["created_at"], base_url),
                               _request_timeout=line_api.REQUEST_TIMEOUT_S)
    except messaging.ApiException as exc:
        if exc.status == 409 and exc.headers and exc.headers.get(ACCEPTED):
            return _Outcome(row, "sent")  # an earlier attempt got through; LINE did not send it again
        if exc.status == 429 or exc.status >= 500:
            return _Outcome(row, "retry", _refusal(exc), exc.headers.get("Retry-After") if exc.headers else None)
        return _Outcome(row, "failed", _refusal(exc))
    except Exception as exc:  # network trouble or a timeout: retry later, never crash the sender
        return _Outcome(row, "retry", type(exc).__name__)
    return _Outcome(row, "sent")


async def _record(outcomes: list[_Outcome], stats: LineStats) -> None:
    """One UPDATE per kind of outcome, as push_delivery records them."""
    now = clock.now()
    groups: dict[tuple[str, str, timedelta | None], list[int]] = {}
    for outcome in outcomes:
        if outcome.status == "retry" and outcome.row["attempts"] >= MAX_ATTEMPTS:
            outcome.status = "failed"
        delay = backoff(outcome.row["attempts"], outcome.retry_after, now) if outcome.status == "retry" else None
        groups.setdefault((outcome.status, outcome.error[:200], delay), []).append(outcome.row["id"])
        if outcome.status == "retry":
            stats.retried += 1
        else:
            setattr(stats, outcome.status, getattr(stats, outcome.status) + 1)
    for (status, error, delay), ids in groups.items():
        values = {LineDelivery.status: "queued" if delay is not None else status, LineDelivery.last_error: error,
                  LineDelivery.claimed_until: None, LineDelivery.sent_at: now if status == "sent" else None}
        if delay is not None:
            values[LineDelivery.next_attempt_at] = now + delay
        await LineDelivery.update(values).where(among(LineDelivery.id, ids) & (LineDelivery.status == "sending"))


async def send_claimed(api: AsyncMessagingApi, ids: list[int], base_url: str, stats: LineStats) -> None:
    rows = await _load(ids)
    gate = asyncio.Semaphore(CONCURRENCY)
    now = clock.now()

    async def one(row: dict) -> _Outcome:
        async with gate:
            return await _attempt(api, row, base_url, now)

    await _record(list(await asyncio.gather(*(one(row) for row in rows))), stats)


async def run_once(line: Line, base_url: str, budget_s: float = ROUND_S) -> LineStats:
    """One round: claim and send what is due until nothing is or `budget_s` has passed (what is left waits for
    the next round). Run after push's round, which fans notifications out."""
    stats = LineStats()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget_s
    ids = await claim(clock.now(), BATCH, table=LineDelivery)
    if not ids:
        return stats
    async with line_api.messaging_api(line) as api:
        for _batch in range(1000):  # bounded: far more batches than one round meets
            await send_claimed(api, ids, base_url, stats)
            if loop.time() >= deadline:
                break
            ids = await claim(clock.now(), BATCH, table=LineDelivery)
            if not ids:
                break
    return stats
