"""Mail that must not be lost: saved first (in the caller's transaction), sent by the background round,
retried with backoff while the mail server refuses, and marked failed after a day of trying."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from app.services.notify import mail
from app.services.shared import clock
from app.settings import Smtp
from db.tables import OutboxMail

LEASE = timedelta(minutes=5)  # a sender that died mid-send gives its mails back after this
MAX_ATTEMPTS = 10  # 1, 2, 4 … 256 minutes apart: about eight and a half hours of trying
BATCH = 50


async def enqueue(smtp: Smtp, to: str, subject: str, body: str, purpose: str, *, reply_to: str = "",
                  in_reply_to: str = "", headers: dict[str, str] | None = None, now: datetime | None = None) -> dict:
    """Save a mail for sending. Returns its id and Message-ID (for threading replies). `headers`: more headers
    for this mail alone (the digest's List-Unsubscribe)."""
    msgid = mail.message_id(smtp)
    rows = await OutboxMail.insert(OutboxMail(
        to_address=to, subject=subject[:200], body=body, reply_to=reply_to, message_id=msgid,
        in_reply_to=in_reply_to, purpose=purpose, next_attempt_at=now or clock.now(), created_at=now or clock.now(),
        headers=headers or {},
    )).returning(OutboxMail.id)
    return {"id": rows[0]["id"], "message_id": msgid}


def retry_delay(attempts: int) -> timedelta:
    return timedelta(minutes=min(2 ** max(0, attempts - 1), 256))


@dataclass
class OutboxStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0


async def _claim(now: datetime, limit: int) -> list[dict]:
    due = ((OutboxMail.status == "queued") & (OutboxMail.next_attempt_at <= now)
           & (OutboxMail.claimed_until.is_null() | (OutboxMail.claimed_until < now)))
    candidates = [row["id"] for row in await OutboxMail.select(OutboxMail.id).where(due)
                  .order_by(OutboxMail.next_attempt_at).limit(limit)]
    if not candidates:
        return []
    # The conditional UPDATE is the claim: of two senders, only one gets each row.
    claimed = await OutboxMail.update(
        {OutboxMail.claimed_until: now + LEASE, OutboxMail.attempts: OutboxMail.attempts + 1}
    ).where(OutboxMail.id.is_in(candidates) & due).returning(OutboxMail.id)
    ids = [row["id"] for row in claimed]
    return await OutboxMail.select().where(OutboxMail.id.is_in(ids)).output(load_json=True) if ids else []


async def deliver_due(smtp: Smtp, mail_dir: Path, now: datetime | None = None, limit: int = BATCH) -> OutboxStats:
    """Send the mails that are due, one after another (a desk sends dozens a day, not thousands a second)."""
    now = now or clock.now()
    stats = OutboxStats()
    for row in await _claim(now, limit):
        try:
            await mail.send_mail(smtp, mail_dir, row["to_address"], row["subject"], row["body"],
                                 now=now, msgid=row["message_id"], reply_to=row["reply_to"], in_reply_to=row["in_reply_to"],
                                 extra_headers=row["headers"] or {})
        except mail.MailError as exc:
            failed = row["attempts"] >= MAX_ATTEMPTS
            await OutboxMail.update({
                OutboxMail.status: "failed" if failed else "queued",
                OutboxMail.next_attempt_at: now + retry_delay(row["attempts"]),
                OutboxMail.claimed_until: None,
                OutboxMail.last_error: str(exc)[:200],
            }).where(OutboxMail.id == row["id"])
            if failed:
                stats.failed += 1
            else:
                stats.retried += 1
            continue
        await OutboxMail.update({OutboxMail.status: "sent", OutboxMail.sent_at: now, OutboxMail.claimed_until: None,
                                 OutboxMail.last_error: ""}).where(OutboxMail.id == row["id"])
        stats.sent += 1
    return stats


async def resend(mail_id: int, now: datetime | None = None) -> bool:
    """Put a failed mail back in the queue (staff pressed "send again")."""
    rows = await OutboxMail.update({
        OutboxMail.status: "queued", OutboxMail.attempts: 0, OutboxMail.next_attempt_at: now or clock.now(),
        OutboxMail.claimed_until: None,
    }).where((OutboxMail.id == mail_id) & (OutboxMail.status == "failed")).returning(OutboxMail.id)
    return bool(rows)


async def status_of(mail_ids: list[int]) -> dict[int, dict]:
    if not mail_ids:
        return {}
    rows = await OutboxMail.select(OutboxMail.id, OutboxMail.status, OutboxMail.attempts, OutboxMail.last_error,
                                   OutboxMail.sent_at).where(OutboxMail.id.is_in(mail_ids))
    return {row["id"]: row for row in rows}
