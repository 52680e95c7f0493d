"""One inquiry's thread and what the desk does with it: the messages in order (notes for staff only), the
desk's answers by mail, in the app or as a record of a call, the asker's further messages, internal notes,
status, category and assignee (all audited), and sending a failed mail again."""

from __future__ import annotations

from datetime import datetime

from app.i18n import gettext as _
from app.services.desk.asking import staff_accounts
from app.services.desk.common import (
    CATEGORIES,
    SETTABLE_STATUSES,
    InquiryInvalid,
    InquiryRefused,
    check_message,
    notice_excerpt,
)
from app.services.desk.contact import Links, Post
from app.services.desk.mails import reply_mail
from app.services.membership.membership import in_locale_of
from app.services.notify import notices, outbox
from app.services.shared import clock
from db.engine import atomic
from db.tables import AuditLog, DeskMail, Inquiry, InquiryMessage


async def get_inquiry(inquiry_id: int) -> dict | None:
    return await Inquiry.select(
        *Inquiry.all_columns(), Inquiry.assignee.display_name.as_alias("assignee_name"),
        Inquiry.account.display_name.as_alias("account_name"), Inquiry.account.status.as_alias("account_status"),
    ).where(Inquiry.id == inquiry_id).first()


async def inquiry_of_member(inquiry_id: int, account_id: int) -> dict | None:
    """The inquiry if it is this member's own; None otherwise (another's is as good as missing)."""
    inquiry = await get_inquiry(inquiry_id)
    return inquiry if inquiry and inquiry["account"] == account_id else None


async def thread(inquiry_id: int, *, staff: bool) -> list[dict]:
    """The messages in order. Staff see internal notes and how each mail is doing; the asker sees neither."""
    query = InquiryMessage.select(
        *InquiryMessage.all_columns(), InquiryMessage.author.display_name.as_alias("author_name"),
        InquiryMessage.author.role.as_alias("author_role"),
    ).where(InquiryMessage.inquiry == inquiry_id)
    if not staff:
        query = query.where(InquiryMessage.kind != "note")
    rows = await query.order_by(InquiryMessage.created_at).order_by(InquiryMessage.id)
    mails = await outbox.status_of([r["mail"] for r in rows if r["mail"]]) if staff else {}
    received = await _received_mails([r["id"] for r in rows]) if staff else {}
    return [{**row, "mail_status": mails.get(row["mail"]) if staff else None, "received": received.get(row["id"])}
            for row in rows]


async def _received_mails(message_ids: list[int]) -> dict[int, dict]:
    """The mails the asker's messages came in (read from the desk's mailbox), whole, by message id."""
    if not message_ids:
        return {}
    rows = await DeskMail.select(DeskMail.message, DeskMail.from_address, DeskMail.from_name, DeskMail.subject,
                                 DeskMail.full_text, DeskMail.attachments, DeskMail.sent_at).where(
        DeskMail.message.is_in(message_ids)).output(load_json=True)
    return {row["message"]: row for row in rows}


def _status_audit(actor_id: int | None, inquiry_id: int, before: str, after: str, now: datetime, by: str = "staff"):
    return AuditLog.insert(AuditLog(
        actor=actor_id, action="inquiry.status", target_type="inquiry", target_id=str(inquiry_id),
        detail={"from": before, "to": after, "by": by}, created_at=now,
    ))


async def _open_inquiry(inquiry_id: int) -> dict:
    inquiry = await get_inquiry(inquiry_id)
    if inquiry is None:
        raise InquiryRefused("not_found")
    if inquiry["status"] == "closed":
        raise InquiryRefused("closed")
    return inquiry


async def _move(inquiry: dict, changes: dict, now: datetime) -> None:
    """Inside a transaction: update the inquiry unless someone changed its status meanwhile."""
    moved = await Inquiry.update({**changes, Inquiry.updated_at: now}).where(
        (Inquiry.id == inquiry["id"]) & (Inquiry.status == inquiry["status"])
    ).returning(Inquiry.id)
    if not moved:
        raise InquiryRefused("changed_meanwhile")


def reply_channels(inquiry: dict) -> list[str]:
    """How a reply can reach this asker: by mail to their address, in the app if they are a member, and
    always as a record of what was said on the phone."""
    channels = []
    if inquiry["email"]:
        channels.append("email")
    if inquiry["account"] and inquiry.get("account_status", "active") == "active":
        channels.append("app")
    return channels + ["phone"]


def default_reply_channel(inquiry: dict) -> str:
    channels = reply_channels(inquiry)
    return inquiry["contact_method"] if inquiry["contact_method"] in channels else channels[0]


async def reply(inquiry_id: int, staff_id: int, body: str, channel: str, next_status: str, post: Post,
                now: datetime | None = None) -> int:
    """A staff answer. By e-mail it is queued in the outbox (threaded under the receipt); a member also finds
    it in the app with a notice. The inquiry moves to `next_status` and, if nobody had it, to this person."""
    now = now or clock.now()
    body = body.strip()
    errors = {}
    body_error = check_message(body)
    if body_error:
        errors["body"] = body_error
    inquiry = await _open_inquiry(inquiry_id)
    if channel not in reply_channels(inquiry):
        errors["channel"] = _("Choose how this answer reaches the asker.")
    if next_status not in SETTABLE_STATUSES:
        errors["next_status"] = _("Choose from the list.")
    if errors:
        raise InquiryInvalid(errors)
    mail = None
    async with atomic(Inquiry._meta.db):
        if channel == "email":
            first = await InquiryMessage.select(InquiryMessage.mail.message_id.as_alias("message_id")).where(
                (InquiryMessage.inquiry == inquiry_id) & InquiryMessage.mail.is_not_null()
            ).order_by(InquiryMessage.id).first()
            async with in_locale_of(inquiry["account"]):
                subject, text = reply_mail(inquiry, body, post)
            mail = await outbox.enqueue(post.smtp, inquiry["email"], subject, text, "inquiry_reply",
                                        reply_to=post.desk.email, in_reply_to=first["message_id"] if first else "", now=now)
        rows = await InquiryMessage.insert(InquiryMessage(
            inquiry=inquiry_id, kind="reply", author=staff_id, body=body, channel=channel,
            mail=mail["id"] if mail else None, created_at=now,
        )).returning(InquiryMessage.id)
        changes = {Inquiry.status: next_status, Inquiry.last_message_at: now}
        if inquiry["assignee"] is None:
            changes[Inquiry.assignee] = staff_id
        await _move(inquiry, changes, now)
        if next_status != inquiry["status"]:
            await _status_audit(staff_id, inquiry_id, inquiry["status"], next_status, now)
        if channel != "phone" and inquiry["account"]:
            async with in_locale_of(inquiry["account"]):
                title = _("The desk answered your inquiry (%(reference)s)", reference=inquiry["reference"])
            await notices.notify(inquiry["account"], title, notice_excerpt(body), post.links.thread(inquiry_id), now=now)
    return rows[0]["id"]


async def add_asker_message(inquiry_id: int, body: str, channel: str, links: Links, *, account_id: int | None = None,
                            recorded_by: int | None = None, now: datetime | None = None) -> int:
    """A further message from the asker: written by the member in the app (`account_id`, who must own the
    inquiry), or recorded by staff from a call or an e-mail (`recorded_by`). Waiting → in progress, and the
    assignee is told."""
    now = now or clock.now()
    body = body.strip()
    body_error = check_message(body)
    if body_error:
        raise InquiryInvalid({"body": body_error})
    inquiry = await get_inquiry(inquiry_id)
    if inquiry is None or (account_id is not None and inquiry["account"] != account_id):
        raise InquiryRefused("not_found")
    if inquiry["status"] == "closed":
        raise InquiryRefused("closed")
    if channel not in ("app", "email", "phone"):
        raise InquiryInvalid({"channel": _("Choose how the message reached the desk.")})
    async with atomic(Inquiry._meta.db):
        return await record_asker_message(inquiry, body, channel, links, author=recorded_by or account_id,
                                          by="staff" if recorded_by else "asker", now=now)


async def record_asker_message(inquiry: dict, body: str, channel: str, links: Links, *, author: int | None, by: str,
                               now: datetime) -> int:
    """Inside the caller's transaction: the asker's message, and what it does to the inquiry. Waiting (or closed:
    only a mail can reach a closed inquiry) → in progress, audited; the assignee is told unless they wrote it."""
    next_status = "in_progress" if inquiry["status"] in ("waiting", "closed") else inquiry["status"]
    rows = await InquiryMessage.insert(InquiryMessage(
        inquiry=inquiry["id"], kind="asker", author=author, body=body, channel=channel, created_at=now,
    )).returning(InquiryMessage.id)
    await _move(inquiry, {Inquiry.status: next_status, Inquiry.last_message_at: now}, now)
    if next_status != inquiry["status"]:
        await _status_audit(author, inquiry["id"], inquiry["status"], next_status, now, by=by)
    if inquiry["assignee"] and inquiry["assignee"] != author:
        await notices.notify(inquiry["assignee"], _("The asker wrote again (%(reference)s)", reference=inquiry["reference"]),
                             notice_excerpt(body), links.staff(inquiry["id"]), now=now)
    return rows[0]["id"]


async def add_note(inquiry_id: int, staff_id: int, body: str, now: datetime | None = None) -> int:
    """An internal note: for the desk only, never shown to the asker (also on a closed inquiry)."""
    now = now or clock.now()
    body = body.strip()
    body_error = check_message(body)
    if body_error:
        raise InquiryInvalid({"note": body_error})
    if not await Inquiry.exists().where(Inquiry.id == inquiry_id):
        raise InquiryRefused("not_found")
    rows = await InquiryMessage.insert(InquiryMessage(
        inquiry=inquiry_id, kind="note", author=staff_id, body=body, channel="web", created_at=now,
    )).returning(InquiryMessage.id)
    return rows[0]["id"]


async def set_status(inquiry_id: int, staff_id: int, status: str, now: datetime | None = None) -> None:
    """Staff move an inquiry (closing it, reopening a closed one as in progress); every change is audited."""
    now = now or clock.now()
    if status not in SETTABLE_STATUSES:
        raise InquiryRefused("not_allowed")
    inquiry = await get_inquiry(inquiry_id)
    if inquiry is None:
        raise InquiryRefused("not_found")
    if inquiry["status"] == status:
        return
    async with atomic(Inquiry._meta.db):
        await _move(inquiry, {Inquiry.status: status}, now)
        await _status_audit(staff_id, inquiry_id, inquiry["status"], status, now)


async def set_category(inquiry_id: int, staff_id: int, category: str, now: datetime | None = None) -> None:
    """Staff sort an inquiry under one of the desk's categories: a mail that answered nothing comes in as "mail"
    until they do, and an asker may have chosen a category that fits less well. The report counts inquiries by
    the category they have now. Audited; "mail" cannot be chosen (no inquiry goes back to unsorted)."""
    now = now or clock.now()
    if category not in CATEGORIES:
        raise InquiryRefused("not_a_category")
    inquiry = await get_inquiry(inquiry_id)
    if inquiry is None:
        raise InquiryRefused("not_found")
    if inquiry["category"] == category:
        return
    async with atomic(Inquiry._meta.db):
        moved = await Inquiry.update({Inquiry.category: category, Inquiry.updated_at: now}).where(
            (Inquiry.id == inquiry_id) & (Inquiry.category == inquiry["category"])).returning(Inquiry.id)
        if not moved:
            raise InquiryRefused("changed_meanwhile")
        await AuditLog.insert(AuditLog(
            actor=staff_id, action="inquiry.category", target_type="inquiry", target_id=str(inquiry_id),
            detail={"from": inquiry["category"], "to": category}, created_at=now,
        ))


async def assign(inquiry_id: int, staff_id: int, assignee_id: int | None, now: datetime | None = None) -> None:
    """Give the inquiry to a secretariat member (or to nobody); audited."""
    now = now or clock.now()
    inquiry = await get_inquiry(inquiry_id)
    if inquiry is None:
        raise InquiryRefused("not_found")
    if assignee_id is not None and assignee_id not in {s["id"] for s in await staff_accounts()}:
        raise InquiryRefused("not_staff")
    if inquiry["assignee"] == assignee_id:
        return
    async with atomic(Inquiry._meta.db):
        await Inquiry.update({Inquiry.assignee: assignee_id, Inquiry.updated_at: now}).where(Inquiry.id == inquiry_id)
        await AuditLog.insert(AuditLog(
            actor=staff_id, action="inquiry.assign", target_type="inquiry", target_id=str(inquiry_id),
            detail={"from": inquiry["assignee"], "to": assignee_id}, created_at=now,
        ))


async def resend_mail(inquiry_id: int, message_id: int, now: datetime | None = None) -> None:
    """Staff pressed "send again" on a mail the server never took (a receipt or a reply)."""
    message = await InquiryMessage.select(InquiryMessage.mail).where(
        (InquiryMessage.id == message_id) & (InquiryMessage.inquiry == inquiry_id)
    ).first()
    if message is None or message["mail"] is None:
        raise InquiryRefused("not_found")
    if not await outbox.resend(message["mail"], now):
        raise InquiryRefused("not_failed")
