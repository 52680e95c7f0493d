"""Replies by mail come into the desk (seed 004 §4(1)): the background round reads the desk's mailbox and turns
each new mail into the asker's message in the inquiry it answers, or into a new inquiry of category "mail".

Which inquiry: the Message-IDs in In-Reply-To and References (the outbox's receipts and answers, and the
asker's own earlier mails), then a reference number such as Q-2611-7K3M in the subject. The thread shows what
the asker wrote without the mail they quote; the whole text is kept with the mail (DeskMail). A mail sent
automatically (an absence notice, a delivery failure) becomes a note in the thread it answers, never the
asker's message. Whatever is odd about a mail (no sender, no subject or text, an attachment not kept) is told
to staff in a note beside it: no mail stops the round.

Once, whatever happens: a mail is claimed by a row unique by its place in the mailbox and by its Message-ID
before it is read, and its message is written in the same transaction that marks the row done. A round that
dies after its claim leaves the row claimed; once the lease runs out the next round takes it over. Two rounds
at once claim different mails. The mailbox is only read: every mail stays there.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from app.i18n import gettext as _
from app.i18n import in_locale
from app.services.desk import asking, threads
from app.services.desk.common import MAIL_CATEGORY, MESSAGE_MAX
from app.services.desk.contact import Post, load_desk, round_links
from app.services.desk.mail_reading import PROBLEMS, ReadMail, read_mail, references_in, without_quote
from app.services.desk.mailbox import Fetched, Mailbox, mailbox_name
from app.services.desk.validation import NAME_MAX, InquiryValues
from app.services.membership.membership import EMAIL_PATTERN
from app.services.shared import clock, uploads
from app.settings import Settings
from db.engine import atomic, is_unique_violation
from db.tables import DeskMail, Inquiry, InquiryMessage

log = logging.getLogger("tsunagu.desk.mail")

LEASE = timedelta(minutes=10)  # a round that died holding a mail gives it back after this
BATCH = 50  # mails read per round; the rest wait for the next one
MAX_ATTEMPTS = 3  # a mail that fails this often for a reason of ours is marked failed, not retried forever


@dataclass
class MailStats:
    threaded: int = 0
    opened: int = 0
    skipped: int = 0  # another round has it, or it is a copy of a mail already read
    failed: int = 0


class LostClaim(Exception):
    """Another round took the mail over meanwhile (this one outlived its lease): it marks it, not us."""


async def read_replies(settings: Settings, now: datetime | None = None, limit: int = BATCH) -> MailStats:
    """One pass over the mailbox: the mails not yet read, at most `limit`. Nothing when no IMAP host is set."""
    stats = MailStats()
    if not settings.imap.enabled:
        return stats
    now = now or clock.now()
    name = mailbox_name(settings.imap)
    desk = await load_desk(_("%(site)s consultation desk", site=settings.branding.site_name))
    post = Post(settings.smtp, desk, round_links(settings.base_url))
    async with Mailbox(settings.imap) as box:
        settled = await _settled(name, box.uidvalidity, now)
        for uid in [uid for uid in await box.uids() if uid not in settled][:limit]:
            fetched = await box.fetch(uid)
            if fetched is None:
                continue
            outcome = await take(name, box.uidvalidity, fetched, post, settings.var_dir, settings.default_locale, now)
            setattr(stats, outcome, getattr(stats, outcome) + 1)
    return stats


async def _settled(mailbox: str, uidvalidity: int, now: datetime) -> set[int]:
    """UIDs no round needs to fetch: read, copies, failed, or held by a live claim."""
    rows = await DeskMail.select(DeskMail.uid).where(
        (DeskMail.mailbox == mailbox) & (DeskMail.uidvalidity == uidvalidity)
        & ((DeskMail.status != "claimed") | (DeskMail.claimed_until >= now)))
    return {row["uid"] for row in rows}


async def _claim(mailbox: str, uidvalidity: int, uid: int, key: str, now: datetime) -> tuple[int, str, int] | None:
    """(row id, claim token, attempts) when this round may read the mail; None when another has it or had it."""
    token = secrets.token_hex(8)
    try:
        rows = await DeskMail.insert(DeskMail(
            mailbox=mailbox, uidvalidity=uidvalidity, uid=uid, message_key=key, status="claimed", claim=token,
            claimed_until=now + LEASE, attempts=1, created_at=now,
        )).returning(DeskMail.id)
        return rows[0]["id"], token, 1
    except Exception as exc:
        if not is_unique_violation(exc):
            raise
    place = (DeskMail.mailbox == mailbox) & (DeskMail.uidvalidity == uidvalidity) & (DeskMail.uid == uid)
    if await DeskMail.exists().where(place):
        # The conditional UPDATE is the take-over: of two rounds finding the same dead claim, one gets it.
        taken = await DeskMail.update({DeskMail.claim: token, DeskMail.claimed_until: now + LEASE,
                                       DeskMail.attempts: DeskMail.attempts + 1}).where(
            place & (DeskMail.status == "claimed") & (DeskMail.claimed_until < now)
        ).returning(DeskMail.id, DeskMail.attempts)
        return (taken[0]["id"], token, taken[0]["attempts"]) if taken else None
    # The same mail at another place (copied to the folder again, or the server renumbered the folder):
    # remember the place so no round fetches it again, and nothing else.
    try:
        await DeskMail.insert(DeskMail(mailbox=mailbox, uidvalidity=uidvalidity, uid=uid, message_key=None,
                                       status="copy", created_at=now))
    except Exception as exc:
        if not is_unique_violation(exc):
            raise
    return None


async def take(mailbox: str, uidvalidity: int, fetched: Fetched, post: Post, var_dir: Path, locale: str,
               now: datetime) -> str:
    """Claim one fetched mail and deliver it: "threaded", "opened", "skipped" or "failed". `locale`: the
    installation's language, which the notes for the desk are written in."""
    mail = read_mail(fetched.raw, header_only=not fetched.whole)
    claim = await _claim(mailbox, uidvalidity, fetched.uid, mail.message_key, now)
    if claim is None:
        return "skipped"
    row_id, token, attempts = claim
    try:
        with in_locale(locale):
            return await _deliver(row_id, token, mail, post, var_dir, now)
    except LostClaim:
        return "skipped"
    except Exception:
        log.exception("desk mail %s/%s uid %s could not be delivered", mailbox, uidvalidity, fetched.uid)
        if attempts >= MAX_ATTEMPTS:
            await DeskMail.update({DeskMail.status: "failed", DeskMail.claimed_until: None}).where(
                (DeskMail.id == row_id) & (DeskMail.claim == token))
        return "failed"


async def _inquiry_answered(mail: ReadMail) -> dict | None:
    """The inquiry this mail answers: by the mails it names (ours, or the asker's earlier ones), then by the
    reference number in its subject."""
    found = None
    if mail.answers:
        found = await InquiryMessage.select(InquiryMessage.inquiry.as_alias("id")).where(
            InquiryMessage.mail.message_id.is_in(mail.answers)).first()
        found = found or await DeskMail.select(DeskMail.inquiry.as_alias("id")).where(
            DeskMail.message_key.is_in(mail.answers) & DeskMail.inquiry.is_not_null()).first()
    for reference in references_in(mail.subject) if found is None else ():
        found = await Inquiry.select(Inquiry.id).where(Inquiry.reference == reference).first()
        if found:
            break
    return await threads.get_inquiry(found["id"]) if found else None


def shown_text(mail: ReadMail) -> str:
    """What the thread shows: the asker's own words, within a message's length (the whole mail is kept)."""
    text = without_quote(mail.text) or mail.subject or "—"
    return text if len(text) <= MESSAGE_MAX else text[:MESSAGE_MAX - 1] + "…"


def _new_inquiry(mail: ReadMail, body: str) -> InquiryValues:
    address = mail.from_address if EMAIL_PATTERN.match(mail.from_address) else ""
    name = (mail.from_name or address or _("Unknown sender"))[:NAME_MAX]
    return InquiryValues(name=name, email=address, contact_method="email", category=MAIL_CATEGORY, message=body,
                         channel="mail")


async def _prepared_attachments(mail: ReadMail) -> tuple[list, list[dict]]:
    """Before the transaction (decoding a picture takes CPU): the checked files, and the refused ones with
    uploads' reason (or "forwarded": a mail inside the mail, which is no file to keep)."""
    prepared, refused = [], []
    for attachment in mail.attachments:
        reason = "forwarded" if attachment.content_type.startswith("message/") else ""
        if not reason:
            try:
                prepared.append((attachment.filename, await uploads.prepare_attachment(attachment.data)))
                continue
            except uploads.UploadRefused as refusal:
                reason = refusal.reason
        refused.append({"filename": attachment.filename, "refused": reason})
    if refused:
        mail.problem("attachment_refused")
    return prepared, refused


def _not_kept_because(reason: str) -> str:
    """Why an attachment was not kept, as staff read it: the uploads' messages speak to the person uploading."""
    return {
        "too_big": _("larger than %(mb)d MB", mb=uploads.MAX_BYTES // (1024 * 1024)),
        "too_many_pixels": _("a picture of too many pixels"),
        "broken": _("damaged or cut short"),
        "empty": _("empty"),
        "forwarded": _("a mail forwarded as an attachment"),
    }.get(reason, _("not a JPEG, PNG or WebP image or a PDF file"))


def _note(mail: ReadMail, refused: list[dict]) -> str:
    lines = [str(PROBLEMS[code]) for code in mail.problems]
    lines += [_("Not kept: %(name)s (%(reason)s)", name=item["filename"] or _("(no name)"),
                reason=_not_kept_because(item["refused"])) for item in refused]
    return "\n".join(lines)


async def _record(inquiry: dict, mail: ReadMail, body: str, post: Post, now: datetime) -> int:
    """The asker's message in the thread; an automatic mail only as a note for the desk, which leaves the
    inquiry's status and assignee alone (an absence notice answering the desk's reply must not reopen it)."""
    if "automatic" not in mail.problems:
        return await threads.record_asker_message(inquiry, body, "email", post.links, author=None, by="asker", now=now)
    rows = await InquiryMessage.insert(InquiryMessage(inquiry=inquiry["id"], kind="note", body=body, channel="email",
                                                      created_at=now)).returning(InquiryMessage.id)
    return rows[0]["id"]


async def _deliver(row_id: int, token: str, mail: ReadMail, post: Post, var_dir: Path, now: datetime) -> str:
    prepared, refused = await _prepared_attachments(mail)
    stored: list[str] = []
    try:
        async with atomic(DeskMail._meta.db):
            inquiry = await _inquiry_answered(mail)
            body = shown_text(mail)
            if inquiry is not None:
                if inquiry["status"] == "closed" and "automatic" not in mail.problems:
                    mail.problem("closed_reopened")
                if mail.from_address.lower() != (inquiry["email"] or "").lower():
                    mail.problem("other_sender")
                message_id = await _record(inquiry, mail, body, post, now)
                inquiry_id, outcome = inquiry["id"], "threaded"
            else:
                inquiry_id = (await asking.create_inquiry(_new_inquiry(mail, body), post, now=now, receipt=False))["id"]
                message_id = (await InquiryMessage.select(InquiryMessage.id).where(
                    InquiryMessage.inquiry == inquiry_id).first())["id"]
                outcome = "opened"
            attachments = []
            for filename, prepared_file in prepared:
                stored.append(await uploads.store(prepared_file, var_dir, None, private=True))
                attachments.append({"filename": filename, "url": stored[-1], "content_type": prepared_file.content_type})
            if mail.problems:
                await InquiryMessage.insert(InquiryMessage(inquiry=inquiry_id, kind="note", body=_note(mail, refused),
                                                           channel="email", created_at=now))
            marked = await DeskMail.update({
                DeskMail.status: "done", DeskMail.claimed_until: None, DeskMail.inquiry: inquiry_id,
                DeskMail.message: message_id, DeskMail.from_address: mail.from_address, DeskMail.from_name: mail.from_name,
                DeskMail.subject: mail.subject, DeskMail.full_text: mail.text, DeskMail.attachments: attachments + refused,
                DeskMail.problems: mail.problems, DeskMail.sent_at: mail.sent_at,
            }).where((DeskMail.id == row_id) & (DeskMail.claim == token) & (DeskMail.status == "claimed")).returning(
                DeskMail.id)
            if not marked:
                raise LostClaim()
    except BaseException:
        for url in stored:  # the rows went with the transaction; the files go here
            await uploads.discard(url, var_dir)
        raise
    return outcome
