"""Asking the desk: an inquiry stored with its reference number, its first message, the asker's receipt and
the staff's notification.

Nothing asked is lost: an inquiry, its first message and every mail it causes are written in one transaction,
and mail goes through the outbox (saved first, sent and retried by the background round), so a mail server
that is down delays a receipt or a reply but never loses it, nor the inquiry itself.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from app.i18n import gettext as _
from app.i18n import to_tokyo
from app.services.desk.common import category_label
from app.services.desk.contact import Post
from app.services.desk.mails import receipt_mail, staff_mail
from app.services.desk.validation import InquiryValues
from app.services.notify import outbox, push_notifications
from app.services.shared import clock
from db.engine import atomic, is_unique_violation
from db.tables import Account, Inquiry, InquiryMessage

# Unambiguous when read aloud on the phone or copied by hand: no 0/O, no 1/I.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
REFERENCE_TRIES = 5


def new_reference(now: datetime) -> str:
    """Q-YYMM-XXXX: the month it came in (Tokyo) and four unambiguous characters, about a million a month."""
    return f"Q-{to_tokyo(now):%y%m}-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _i in range(4))


async def staff_accounts() -> list[dict]:
    """Active secretariat accounts, who answer the desk: id, name, e-mail if confirmed."""
    rows = await Account.select(Account.id, Account.display_name, Account.email, Account.email_verified_at).where(
        (Account.role == "staff") & (Account.status == "active")
    ).order_by(Account.display_name)
    return [{"id": r["id"], "display_name": r["display_name"],
             "email": r["email"] if r["email"] and r["email_verified_at"] else ""} for r in rows]


async def create_inquiry(values: InquiryValues, post: Post | None, *, account_id: int | None = None,
                         recorded_by: int | None = None, now: datetime | None = None, receipt: bool = True) -> dict:
    """Store an inquiry with its first message, its receipt mail and the staff's notification, all or nothing.

    A web inquiry tells every staff member (mail to confirmed addresses, push and the in-app inbox); one that
    staff record from a call is theirs already (assigned to them, in progress). With `receipt=False` (a lead the
    desk opens itself) the asker is not mailed; with no one to tell either, no `post` is needed. Returns id and
    reference."""
    now = now or clock.now()
    recorded = recorded_by is not None
    staff = [] if recorded else await staff_accounts()
    attempt = 0
    while True:
        attempt += 1
        reference = new_reference(now)
        try:
            async with atomic(Inquiry._meta.db):
                inquiry_id = await _insert_inquiry(values, post, reference, account_id, recorded_by, staff, now, receipt)
        except Exception as exc:
            # Only the reference is unique here: the same one was drawn before. The transaction rolled back
            # as a whole (PostgreSQL allows nothing more in it), so try again from the start.
            if is_unique_violation(exc) and attempt < REFERENCE_TRIES:
                continue
            raise
        return {"id": inquiry_id, "reference": reference}


async def _insert_inquiry(values: InquiryValues, post: Post | None, reference: str, account_id: int | None,
                          recorded_by: int | None, staff: list[dict], now: datetime, receipt_wanted: bool) -> int:
    rows = await Inquiry.insert(Inquiry(
        reference=reference, name=values.name, furigana=values.furigana, email=values.email, phone=values.phone,
        contact_method=values.contact_method, category=values.category, account=account_id, channel=values.channel,
        status="in_progress" if recorded_by else "new", assignee=recorded_by, consent_version=values.consent_version,
        created_at=now, updated_at=now, last_message_at=now,
    )).returning(Inquiry.id)
    inquiry = {"id": rows[0]["id"], "reference": reference, "account": account_id, "category": values.category}
    receipt = None
    if values.email and receipt_wanted:
        subject, body = receipt_mail(inquiry, values, post)
        receipt = await outbox.enqueue(post.smtp, values.email, subject, body, "inquiry_receipt",
                                       reply_to=post.desk.email, now=now)
    channel = {"phone": "phone", "mail": "email"}.get(values.channel, "app" if account_id else "web")
    await InquiryMessage.insert(InquiryMessage(
        inquiry=inquiry["id"], kind="asker", author=recorded_by or account_id, body=values.message, channel=channel,
        mail=receipt["id"] if receipt else None, created_at=now,
    ))
    if staff:
        subject, body = staff_mail(inquiry, post)
        for person in staff:
            if person["email"]:
                await outbox.enqueue(post.smtp, person["email"], subject, body, "inquiry_staff", now=now)
        await push_notifications.create_notification(
            push_notifications.Target(topic="desk", account_ids=[person["id"] for person in staff]),
            _("New inquiry %(reference)s", reference=reference), category_label(values.category),
            post.links.staff(inquiry["id"]), None, send_at=now,
        )
    return inquiry["id"]
