"""Forgetting inquiries: when the asker deletes their account, or a closed inquiry is past its retention
period. The desk keeps that a question of this category came, when, and how it went; not who asked, how to
reach them, or what was said."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.services.desk.common import notice_excerpt
from app.services.shared import uploads
from db.tables import DeskMail, Inquiry, InquiryMessage, Notice, Upload


@dataclass(frozen=True)
class Forgotten:
    """What the caller still has to do once its transaction is over. `mails`: the inquiries' outbox mails, to
    delete or empty inside it. `files`: the attachments of the mails the asker sent (their rows are gone), to
    delete with uploads.delete_files only after the commit, since a rollback would bring the rows back."""

    mails: list[int]
    files: list[str]


async def forget_inquiries(inquiry_ids: list[int], name: str, now: datetime, *, unlink: bool = False) -> Forgotten:
    """Inside the caller's transaction: the asker's name becomes `name`, their e-mail and phone go (and the
    link to their account with `unlink`), open inquiries are closed, every message body (the asker's, the
    desk's answers, the notes) is emptied, and so are the staff notices that quoted a message."""
    if not inquiry_ids:
        return Forgotten([], [])
    mine = Inquiry.id.is_in(inquiry_ids)
    inquiries = await Inquiry.select(Inquiry.reference).where(mine)
    messages = await InquiryMessage.select(InquiryMessage.body, InquiryMessage.mail).where(
        InquiryMessage.inquiry.is_in(inquiry_ids))
    await Inquiry.update({Inquiry.status: "closed", Inquiry.updated_at: now}).where(mine & (Inquiry.status != "closed"))
    changes = {Inquiry.name: name, Inquiry.furigana: "", Inquiry.email: "", Inquiry.phone: ""}
    if unlink:
        changes[Inquiry.account] = None
    await Inquiry.update(changes).where(mine)
    await InquiryMessage.update({InquiryMessage.body: ""}).where(InquiryMessage.inquiry.is_in(inquiry_ids))
    files = await _forget_mails_read(inquiry_ids)
    # Whoever had the inquiry was told "the asker wrote again (Q-…)" with the first words of the message.
    excerpts = list({notice_excerpt(m["body"]) for m in messages if m["body"]})
    if excerpts:
        for inquiry in inquiries:
            await Notice.update({Notice.body: ""}).where(
                Notice.title.like(f"%{inquiry['reference']}%") & Notice.body.is_in(excerpts))
    return Forgotten([m["mail"] for m in messages if m["mail"]], files)


async def _forget_mails_read(inquiry_ids: list[int]) -> list[str]:
    """The mails the asker sent to the desk's mailbox: who, what and their attachments' rows go; that a mail
    came, and its Message-ID (so it is never read again), stay. The mailbox itself is the mail server's to
    clean. Returns the attachments' URLs, whose files outlive the rows until the caller has committed."""
    mails = DeskMail.inquiry.is_in(inquiry_ids)
    rows = await DeskMail.select(DeskMail.attachments).where(mails).output(load_json=True)
    urls = [a["url"] for row in rows for a in row["attachments"] or [] if uploads.name_of(a.get("url") or "")]
    if urls:
        await Upload.delete().where(Upload.name.is_in([uploads.name_of(url) for url in urls]))
    await DeskMail.update({DeskMail.from_address: "", DeskMail.from_name: "", DeskMail.subject: "",
                           DeskMail.full_text: "", DeskMail.attachments: []}).where(mails)
    return urls
