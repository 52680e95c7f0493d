"""Retention (APPI: personal data is kept only while its purpose lasts). A closed inquiry whose last activity
is older than the retention period has served its purpose, and so has a mail that went out (or failed for
good) that long ago: staff see what is past the period and purge it; the purge is audited.

Purging keeps what the statistics need (that an inquiry of this category came, when, how it went; that a
mail of this kind was sent) and forgets the person: the asker's name, e-mail, phone and account link, every
message of the thread, the staff notices quoting it, the addresses and bodies of the mails, and the files
attached to the mails the asker sent to the desk (deleted once the purge has committed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from app.services.desk import forgetting
from app.services.notify import mail
from app.services.shared import uploads
from db.engine import atomic
from db.tables import AuditLog, Inquiry, OutboxMail

PURGED_NAME = "削除済み"
LISTED = 200


@dataclass(frozen=True)
class Due:
    """What is past the period at `cutoff`: the inquiries (the oldest `LISTED` of them) and the counts."""

    cutoff: datetime
    inquiries: list[dict]
    inquiry_count: int
    mail_count: int


def cutoff_for(days: int, now: datetime) -> datetime:
    return now - timedelta(days=days)


def _inquiries_due(cutoff: datetime):
    """Closed, nothing happened since before the cutoff, and not purged yet."""
    return ((Inquiry.status == "closed") & (Inquiry.updated_at < cutoff) & (Inquiry.last_message_at < cutoff)
            & (Inquiry.name != PURGED_NAME))


def _still_personal():
    return (OutboxMail.body != "") | (OutboxMail.to_address != "")


def _mails_due(cutoff: datetime):
    """Sent before the cutoff, or failed for good and made before it (a queued mail is never purged)."""
    finished = (((OutboxMail.status == "sent") & (OutboxMail.sent_at < cutoff))
                | ((OutboxMail.status == "failed") & (OutboxMail.created_at < cutoff)))
    return finished & _still_personal()


async def due(days: int, now: datetime) -> Due:
    cutoff = cutoff_for(days, now)
    inquiries = await Inquiry.select(
        Inquiry.id, Inquiry.reference, Inquiry.category, Inquiry.created_at, Inquiry.updated_at,
    ).where(_inquiries_due(cutoff)).order_by(Inquiry.updated_at).limit(LISTED)
    return Due(cutoff, inquiries, await Inquiry.count().where(_inquiries_due(cutoff)),
               await OutboxMail.count().where(_mails_due(cutoff)))


@dataclass(frozen=True)
class Purged:
    inquiries: int
    mails: int


async def purge(actor_id: int, days: int, now: datetime, var_dir: Path | None = None) -> Purged:
    """Purge everything past the period now, in one transaction, and write who did it to the audit log.
    `var_dir`: where the files are; the attachments of the purged inquiries' mails go, and so do the mails
    written as files (when no mail server is configured) that are older."""
    cutoff = cutoff_for(days, now)
    async with atomic(Inquiry._meta.db):
        ids = [row["id"] for row in await Inquiry.select(Inquiry.id).where(_inquiries_due(cutoff))]
        forgotten = await forgetting.forget_inquiries(ids, PURGED_NAME, now, unlink=True)
        their_mails = forgotten.mails
        mails = _mails_due(cutoff)
        if their_mails:
            mails = mails | (OutboxMail.id.is_in(their_mails) & _still_personal())
            # A mail of such an old inquiry still waiting to go out is not going anywhere now.
            await OutboxMail.update({OutboxMail.status: "failed", OutboxMail.claimed_until: None}).where(
                OutboxMail.id.is_in(their_mails) & (OutboxMail.status == "queued"))
        # The headers go too: a digest's unsubscribe link names the member it was for.
        purged = await OutboxMail.update({OutboxMail.body: "", OutboxMail.to_address: "", OutboxMail.headers: {}}).where(
            mails).returning(OutboxMail.id)
        await AuditLog.insert(AuditLog(
            actor=actor_id, action="retention.purge", target_type="retention", target_id=str(days),
            detail={"days": days, "before": cutoff.isoformat(), "inquiries": len(ids), "mails": len(purged)},
            created_at=now,
        ))
    if var_dir is not None:  # after the commit: a rolled-back purge keeps its rows, so it must keep their files
        await mail.forget_files(var_dir / "mail", before=cutoff)
        await uploads.delete_files(forgotten.files, var_dir)
    return Purged(len(ids), len(purged))
