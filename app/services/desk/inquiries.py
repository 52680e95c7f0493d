"""The consultation desk (相談窓口, seed 004 §4(1)): questions from the public form, from members, or noted by
staff from a call or an e-mail; the staff inbox with status, assignee and internal notes; threads whose replies
reach the asker by mail or in the app.

Nothing asked is lost: an inquiry, its first message and every mail it causes are written in one transaction,
and mail goes through the outbox (saved first, sent and retried by the background round), so a mail server
that is down delays a receipt or a reply but never loses it, nor the inquiry itself.
"""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from piccolo.query.functions.aggregate import Count

from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.i18n import to_tokyo
from app.services.membership.membership import EMAIL_MAX, EMAIL_PATTERN, PRIVACY_POLICY_VERSION
from app.services.notify import notices, outbox, push_notifications
from app.services.shared import clock
from app.services.shared.refusals import FormInvalid, Refusal
from app.settings import Smtp
from db.engine import atomic, is_unique_violation
from db.tables import Account, AuditLog, Inquiry, InquiryMessage, PortalBlock, ReplyTemplate

CATEGORIES = {
    "dual_residence": _l("Dual residence"),
    "migration": _l("Migration"),
    "work": _l("Work"),
    "housing": _l("Housing"),
    "childcare": _l("Child-rearing and education"),
    "entry_pass": _l("Entry pass"),
    "other": _l("Other"),
}
STATUSES = {
    "new": _l("New"),
    "in_progress": _l("In progress"),
    "waiting": _l("Waiting for the asker"),
    "closed": _l("Closed"),
}
OPEN_STATUSES = ("new", "in_progress", "waiting")
# Statuses staff set by hand: "new" only ever comes from the asker.
SETTABLE_STATUSES = ("in_progress", "waiting", "closed")
CONTACT_METHODS = {"email": _l("E-mail"), "phone": _l("Phone"), "app": _l("In the app")}
# How an inquiry reached the desk (Inquiry.channel); staff record the phone and e-mail ones.
CHANNELS = {"web": _l("Web form"), "phone": _l("Phone"), "mail": _l("E-mail")}
# How a message travelled (InquiryMessage.channel).
MESSAGE_CHANNELS = {"web": _l("Web form"), "app": _l("In the app"), "email": _l("E-mail"), "phone": _l("Phone")}

NAME_MAX, MESSAGE_MAX, PHONE_MAX = 100, 4000, 32
PHONE_DIGITS_MIN, PHONE_DIGITS_MAX = 10, 15
TEMPLATE_TITLE_MAX = 100
CONSENT_VERSION = PRIVACY_POLICY_VERSION  # the desk's purpose statement points to this privacy policy
# One address sending more than this many inquiries an hour is a script or a mistake, not a person.
PER_EMAIL_PER_HOUR = 5
# Unambiguous when read aloud on the phone or copied by hand: no 0/O, no 1/I.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
REFERENCE_TRIES = 5
# Open inquiries waiting on the desk this long stand out in the inbox.
AMBER_AFTER, RED_AFTER = timedelta(days=3), timedelta(days=7)
INBOX_LIMIT = 200
IN_CHUNK = 500  # ids per IN (...) in the export, well under either database's limit on parameters
PHONE_PATTERN = re.compile(r"^\+?[0-9][0-9-]*[0-9]$")


class InquiryInvalid(FormInvalid):
    """What was typed cannot be accepted: a message per field."""


class InquiryRefused(Refusal):
    """The step is not possible now: not_found | closed | changed_meanwhile | not_allowed | not_staff | not_failed."""


def category_label(code: str) -> str:
    return str(CATEGORIES.get(code, code))


def status_label(code: str) -> str:
    return str(STATUSES.get(code, code))


# The desk's contact details, from the portal block staff edit ------------------------------------------


@dataclass(frozen=True)
class Desk:
    name: str
    phone: str = ""
    email: str = ""
    hours: str = ""


def desk_from_blocks(blocks: list[dict], default_name: str) -> Desk:
    """The desk from the portal's blocks (kind "desk"); only its name when staff have not written one."""
    block = next((b for b in blocks if b["kind"] == "desk"), None)
    if block is None:
        return Desk(default_name)
    fields = json.loads(block["fields"] or "{}") if isinstance(block["fields"], str) else block["fields"]
    fields = fields if isinstance(fields, dict) else {}
    return Desk(block["title"] or default_name, str(fields.get("phone", "")), str(fields.get("email", "")),
                str(fields.get("hours", "")))


async def load_desk(default_name: str) -> Desk:
    blocks = await PortalBlock.select().where(
        (PortalBlock.kind == "desk") & PortalBlock.active.eq(True)
    ).order_by(PortalBlock.position).output(load_json=True)
    return desk_from_blocks(blocks, default_name)


@dataclass(frozen=True)
class Links:
    """Where an inquiry's pages are. Given by the routes: services know no URLs."""

    base_url: str
    thread: Callable[[int], str]  # the member's thread, a path
    staff: Callable[[int], str]  # the inquiry in the staff inbox, a path

    def absolute(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


@dataclass(frozen=True)
class Post:
    """What sending needs: the mail server, the desk (its name and Reply-To address) and the links."""

    smtp: Smtp
    desk: Desk
    links: Links


# Validation -------------------------------------------------------------------------------------------


@dataclass
class InquiryValues:
    name: str = ""
    email: str = ""
    phone: str = ""
    contact_method: str = ""
    category: str = ""
    message: str = ""
    consent_version: str = ""
    channel: str = "web"


def _text(form: dict, name: str) -> str:
    value = form.get(name, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).strip()


def _narrow(value: str) -> str:
    """Full-width letters, digits and ＠ typed on a Japanese keyboard become their ASCII selves."""
    return unicodedata.normalize("NFKC", value).strip()


def normalise_phone(value: str) -> str:
    # Spaces and full-width hyphens are common in Japanese numbers (０１４４－３２－６１１１): keep digits, - and +.
    return re.sub(r"[\s\u2010-\u2015\u2212\u30fc]", lambda m: "" if m.group().isspace() else "-", _narrow(value))


def check_message(body: str) -> str | None:
    """The error for a message or reply text, or None when it is fine."""
    if not body.strip():
        return _("Enter a message.")
    if len(body) > MESSAGE_MAX:
        return _("Use %(max)d characters or fewer (now %(count)d).", max=MESSAGE_MAX, count=len(body))
    return None


async def validate_inquiry(form: dict, *, member: bool = False, recorded: bool = False,
                           now: datetime | None = None) -> InquiryValues:
    """An inquiry from the form. `member`: the asker is a logged-in member (may be answered in the app);
    `recorded`: staff note one that came by phone or e-mail (the channel is then part of the form)."""
    values = InquiryValues(
        name=_text(form, "name"), email=_narrow(_text(form, "email")), phone=normalise_phone(_text(form, "phone")),
        contact_method=_text(form, "contact_method"), category=_text(form, "category"),
        message=_text(form, "message"), consent_version=_text(form, "consent"),
        channel=_text(form, "channel") if recorded else "web",
    )
    errors: dict[str, str] = {}
    if not values.name:
        errors["name"] = _("Enter your name.") if not recorded else _("Enter the asker's name.")
    elif len(values.name) > NAME_MAX:
        errors["name"] = _("Use %(max)d characters or fewer.", max=NAME_MAX)
    if values.email and (len(values.email) > EMAIL_MAX or not EMAIL_PATTERN.match(values.email)):
        errors["email"] = _("Enter an e-mail address such as taro@example.jp.")
    if values.phone:
        digits = sum(ch.isdigit() for ch in values.phone)
        if (not PHONE_PATTERN.match(values.phone) or not PHONE_DIGITS_MIN <= digits <= PHONE_DIGITS_MAX
                or len(values.phone) > PHONE_MAX):
            errors["phone"] = _("Enter a phone number with its area code, such as 0144-32-6111.")
    methods = ("email", "phone", "app") if member else ("email", "phone")
    if values.contact_method not in methods:
        errors["contact_method"] = _("Choose how we should answer you.")
    elif values.contact_method == "email" and not values.email and "email" not in errors:
        errors["email"] = _("Enter your e-mail address, or choose another way to be answered.")
    elif values.contact_method == "phone" and not values.phone and "phone" not in errors:
        errors["phone"] = _("Enter your phone number, or choose another way to be answered.")
    if not (values.email or values.phone or member) and not ({"email", "phone"} & errors.keys()):
        errors["email"] = _("Enter an e-mail address or a phone number so that we can answer you.")
    if values.category not in CATEGORIES:
        errors["category"] = _("Choose what your question is about.")
    message_error = check_message(values.message) if values.message else _("Enter your question.")
    if message_error:
        errors["message"] = message_error
    if values.consent_version != CONSENT_VERSION:
        errors["consent"] = _("Please read and agree to how we handle your personal data.")
    if recorded and values.channel not in ("phone", "mail"):
        errors["channel"] = _("Choose how the inquiry reached the desk.")
    if values.email and "email" not in errors and not recorded:
        since = (now or clock.now()) - timedelta(hours=1)
        recent = await Inquiry.count().where((Inquiry.email == values.email) & (Inquiry.created_at >= since))
        if recent >= PER_EMAIL_PER_HOUR:
            errors["email"] = _("Several inquiries came from this address within the hour. Please wait a while, or call the desk.")
    if errors:
        raise InquiryInvalid(errors)
    return values


# Reference numbers ------------------------------------------------------------------------------------


def new_reference(now: datetime) -> str:
    """Q-YYMM-XXXX: the month it came in (Tokyo) and four unambiguous characters, about a million a month."""
    return f"Q-{to_tokyo(now):%y%m}-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _i in range(4))


# Mail texts -------------------------------------------------------------------------------------------


def _signature(desk: Desk) -> str:
    lines = ["――――――――――", desk.name]
    if desk.phone and desk.hours:
        lines.append(_("Phone: %(phone)s (%(hours)s)", phone=desk.phone, hours=desk.hours))
    elif desk.phone:
        lines.append(_("Phone: %(phone)s", phone=desk.phone))
    if desk.email:
        lines.append(_("E-mail: %(email)s", email=desk.email))
    return "\n".join(lines)


def _receipt(inquiry: dict, values: InquiryValues, post: Post) -> tuple[str, str]:
    subject = _("[%(desk)s] We received your inquiry (%(reference)s)", desk=post.desk.name, reference=inquiry["reference"])
    lines = [
        _("Dear %(name)s,", name=values.name), "",
        _("Thank you for contacting %(desk)s. We received your inquiry as below; the desk will answer you soon.",
          desk=post.desk.name), "",
        _("Reference number: %(reference)s", reference=inquiry["reference"]),
        _("Category: %(category)s", category=category_label(values.category)),
        _("Preferred contact: %(method)s", method=str(CONTACT_METHODS.get(values.contact_method, ""))), "",
        _("Your message:"), values.message, "",
    ]
    if inquiry["account"]:
        lines += [_("You can follow this inquiry and reply in the app:"),
                  post.links.absolute(post.links.thread(inquiry["id"])), ""]
    elif post.desk.email:
        lines += [_("To add something, reply to this mail and keep the reference number in the subject."), ""]
    lines.append(_signature(post.desk))
    return subject, "\n".join(lines)


def _reply_mail(inquiry: dict, body: str, post: Post) -> tuple[str, str]:
    subject = _("[%(desk)s] Answer to your inquiry (%(reference)s)", desk=post.desk.name, reference=inquiry["reference"])
    lines = [_("Dear %(name)s,", name=inquiry["name"]), "", body, "",
             _("Reference number: %(reference)s", reference=inquiry["reference"])]
    if inquiry["account"]:
        lines.append(_("You can also read and answer this in the app: %(url)s",
                       url=post.links.absolute(post.links.thread(inquiry["id"]))))
    elif post.desk.email:
        lines.append(_("To answer, reply to this mail."))
    lines += ["", _signature(post.desk)]
    return subject, "\n".join(lines)


def _staff_mail(inquiry: dict, post: Post) -> tuple[str, str]:
    # The asker's name and question stay in the inbox: a mail to staff carries no personal data.
    subject = _("New inquiry %(reference)s: %(category)s", reference=inquiry["reference"],
                category=category_label(inquiry["category"]))
    body = "\n".join([
        _("A new inquiry came in to %(desk)s.", desk=post.desk.name), "",
        _("Reference number: %(reference)s", reference=inquiry["reference"]),
        _("Category: %(category)s", category=category_label(inquiry["category"])), "",
        _("Open it in the inbox: %(url)s", url=post.links.absolute(post.links.staff(inquiry["id"]))),
    ])
    return subject, body


# Asking -----------------------------------------------------------------------------------------------


async def staff_accounts() -> list[dict]:
    """Active secretariat accounts, who answer the desk: id, name, e-mail if confirmed."""
    rows = await Account.select(Account.id, Account.display_name, Account.email, Account.email_verified_at).where(
        (Account.role == "staff") & (Account.status == "active")
    ).order_by(Account.display_name)
    return [{"id": r["id"], "display_name": r["display_name"],
             "email": r["email"] if r["email"] and r["email_verified_at"] else ""} for r in rows]


async def create_inquiry(values: InquiryValues, post: Post, *, account_id: int | None = None,
                         recorded_by: int | None = None, now: datetime | None = None) -> dict:
    """Store an inquiry with its first message, its receipt mail and the staff's notification, all or nothing.

    A web inquiry tells every staff member (mail to confirmed addresses, push and the in-app inbox); one that
    staff record from a call is theirs already (assigned to them, in progress). Returns id and reference."""
    now = now or clock.now()
    recorded = recorded_by is not None
    staff = [] if recorded else await staff_accounts()
    attempt = 0
    while True:
        attempt += 1
        reference = new_reference(now)
        try:
            async with atomic(Inquiry._meta.db):
                inquiry_id = await _insert_inquiry(values, post, reference, account_id, recorded_by, staff, now)
        except Exception as exc:
            # Only the reference is unique here: the same one was drawn before. The transaction rolled back
            # as a whole (PostgreSQL allows nothing more in it), so try again from the start.
            if is_unique_violation(exc) and attempt < REFERENCE_TRIES:
                continue
            raise
        return {"id": inquiry_id, "reference": reference}


async def _insert_inquiry(values: InquiryValues, post: Post, reference: str, account_id: int | None,
                          recorded_by: int | None, staff: list[dict], now: datetime) -> int:
    rows = await Inquiry.insert(Inquiry(
        reference=reference, name=values.name, email=values.email, phone=values.phone,
        contact_method=values.contact_method, category=values.category, account=account_id, channel=values.channel,
        status="in_progress" if recorded_by else "new", assignee=recorded_by, consent_version=values.consent_version,
        created_at=now, updated_at=now, last_message_at=now,
    )).returning(Inquiry.id)
    inquiry = {"id": rows[0]["id"], "reference": reference, "account": account_id, "category": values.category}
    receipt = None
    if values.email:
        subject, body = _receipt(inquiry, values, post)
        receipt = await outbox.enqueue(post.smtp, values.email, subject, body, "inquiry_receipt",
                                       reply_to=post.desk.email, now=now)
    channel = {"phone": "phone", "mail": "email"}.get(values.channel, "app" if account_id else "web")
    await InquiryMessage.insert(InquiryMessage(
        inquiry=inquiry["id"], kind="asker", author=recorded_by or account_id, body=values.message, channel=channel,
        mail=receipt["id"] if receipt else None, created_at=now,
    ))
    if staff:
        subject, body = _staff_mail(inquiry, post)
        for person in staff:
            if person["email"]:
                await outbox.enqueue(post.smtp, person["email"], subject, body, "inquiry_staff", now=now)
        await push_notifications.create_notification(
            push_notifications.Target(topic="desk", account_ids=[person["id"] for person in staff]),
            _("New inquiry %(reference)s", reference=reference), category_label(values.category),
            post.links.staff(inquiry["id"]), None, send_at=now,
        )
    return inquiry["id"]


# The thread -------------------------------------------------------------------------------------------


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
    return [{**row, "mail_status": mails.get(row["mail"]) if staff else None} for row in rows]


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
            subject, text = _reply_mail(inquiry, body, post)
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
            await notices.notify(inquiry["account"], _("The desk answered your inquiry (%(reference)s)",
                                                       reference=inquiry["reference"]),
                                 body[:120], post.links.thread(inquiry_id), now=now)
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
    next_status = "in_progress" if inquiry["status"] == "waiting" else inquiry["status"]
    async with atomic(Inquiry._meta.db):
        rows = await InquiryMessage.insert(InquiryMessage(
            inquiry=inquiry_id, kind="asker", author=recorded_by or account_id, body=body, channel=channel, created_at=now,
        )).returning(InquiryMessage.id)
        await _move(inquiry, {Inquiry.status: next_status, Inquiry.last_message_at: now}, now)
        if next_status != inquiry["status"]:
            await _status_audit(recorded_by or account_id, inquiry_id, inquiry["status"], next_status, now,
                                by="staff" if recorded_by else "asker")
        if inquiry["assignee"] and inquiry["assignee"] != recorded_by:
            await notices.notify(inquiry["assignee"], _("The asker wrote again (%(reference)s)", reference=inquiry["reference"]),
                                 body[:120], links.staff(inquiry_id), now=now)
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


# The inbox --------------------------------------------------------------------------------------------


@dataclass
class InboxFilter:
    status: str = "open"  # open | all | one of STATUSES
    category: str = ""
    assignee: str = ""  # "" anyone | mine | unassigned | an account id
    q: str = ""
    sort: str = "oldest"  # oldest | newest | activity

    def cleaned(self) -> "InboxFilter":
        """Anything unknown falls back to its default: a filter never fails, it just shows more."""
        return InboxFilter(
            status=self.status if self.status in ("open", "all", *STATUSES) else "open",
            category=self.category if self.category in CATEGORIES else "",
            assignee=self.assignee if self.assignee in ("mine", "unassigned") or
            (self.assignee.isdecimal() and len(self.assignee) <= 9) else "",
            q=self.q.strip()[:100],
            sort=self.sort if self.sort in ("oldest", "newest", "activity") else "oldest",
        )


def _like(term: str) -> str:
    return "%" + term.replace("\\", "").replace("%", "").replace("_", "") + "%"


def _filtered(query, filters: InboxFilter, me: int):
    if filters.status == "open":
        query = query.where(Inquiry.status.is_in(list(OPEN_STATUSES)))
    elif filters.status != "all":
        query = query.where(Inquiry.status == filters.status)
    if filters.category:
        query = query.where(Inquiry.category == filters.category)
    if filters.assignee == "mine":
        query = query.where(Inquiry.assignee == me)
    elif filters.assignee == "unassigned":
        query = query.where(Inquiry.assignee.is_null())
    elif filters.assignee:
        query = query.where(Inquiry.assignee == int(filters.assignee))
    if filters.q:
        like = _like(filters.q)
        in_messages = InquiryMessage.select(InquiryMessage.inquiry).where(InquiryMessage.body.ilike(like))
        query = query.where(
            Inquiry.reference.ilike(like) | Inquiry.name.ilike(like) | Inquiry.email.ilike(like)
            | Inquiry.phone.ilike(like) | Inquiry.id.is_in(in_messages)
        )
    order = {"oldest": (Inquiry.created_at, True), "newest": (Inquiry.created_at, False),
             "activity": (Inquiry.last_message_at, False)}[filters.sort]
    return query.order_by(order[0], ascending=order[1]).order_by(Inquiry.id, ascending=order[1])


async def _asker_wrote_again(inquiry_ids: list[int]) -> set[int]:
    """Inquiries the desk has answered whose asker wrote after the latest answer: unread for the desk."""
    if not inquiry_ids:
        return set()
    rows = await InquiryMessage.select(InquiryMessage.inquiry, InquiryMessage.kind).where(
        InquiryMessage.inquiry.is_in(inquiry_ids) & InquiryMessage.kind.is_in(["asker", "reply"])
    ).order_by(InquiryMessage.created_at).order_by(InquiryMessage.id)
    answered: set[int] = set()
    last: dict[int, str] = {}
    for row in rows:
        last[row["inquiry"]] = row["kind"]
        if row["kind"] == "reply":
            answered.add(row["inquiry"])
    return {inquiry_id for inquiry_id in answered if last[inquiry_id] == "asker"}


def age_level(inquiry: dict, now: datetime) -> str:
    """"red" after a week, "amber" after three days, while the next step is the desk's (new or in progress;
    an asker's new message moves a waiting inquiry back to in progress)."""
    if inquiry["status"] not in ("new", "in_progress"):
        return ""
    age = now - inquiry["created_at"]
    return "red" if age > RED_AFTER else "amber" if age > AMBER_AFTER else ""


async def inbox(filters: InboxFilter, me: int, now: datetime | None = None, limit: int = INBOX_LIMIT) -> list[dict]:
    now = now or clock.now()
    query = Inquiry.select(
        Inquiry.id, Inquiry.reference, Inquiry.name, Inquiry.category, Inquiry.status, Inquiry.channel,
        Inquiry.account, Inquiry.assignee, Inquiry.created_at, Inquiry.last_message_at,
        Inquiry.assignee.display_name.as_alias("assignee_name"),
    )
    rows = await _filtered(query, filters.cleaned(), me).limit(limit)
    wrote_again = await _asker_wrote_again([r["id"] for r in rows if r["status"] != "closed"])
    out = []
    for row in rows:
        row = {**row, "asker_wrote_again": row["id"] in wrote_again}
        row["age_level"] = age_level(row, now)
        row["age_days"] = (now - row["created_at"]).days
        out.append(row)
    return out


async def status_counts() -> dict[str, int]:
    """How many inquiries are in each status (for the inbox's tabs and the secretariat's home)."""
    rows = await Inquiry.select(Inquiry.status, Count()).group_by(Inquiry.status)
    counts = dict.fromkeys(STATUSES, 0)
    for row in rows:
        counts[row["status"]] = row["count"]
    counts["open"] = sum(counts[s] for s in OPEN_STATUSES)
    return counts


async def export_rows(filters: InboxFilter, me: int) -> list[dict]:
    """Every inquiry the filters choose, with contact details and the first message, for the CSV."""
    query = Inquiry.select(*Inquiry.all_columns(), Inquiry.assignee.display_name.as_alias("assignee_name"))
    rows = await _filtered(query, filters.cleaned(), me)
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    firsts: dict[int, str] = {}
    counts: dict[int, int] = {}
    for start in range(0, len(ids), IN_CHUNK):
        messages = await InquiryMessage.select(InquiryMessage.inquiry, InquiryMessage.body).where(
            InquiryMessage.inquiry.is_in(ids[start:start + IN_CHUNK]) & (InquiryMessage.kind != "note")
        ).order_by(InquiryMessage.created_at).order_by(InquiryMessage.id)
        for message in messages:
            firsts.setdefault(message["inquiry"], message["body"])
            counts[message["inquiry"]] = counts.get(message["inquiry"], 0) + 1
    return [{**row, "first_message": firsts.get(row["id"], ""), "messages": counts.get(row["id"], 0)} for row in rows]


async def inquiries_of_member(account_id: int) -> list[dict]:
    """A member's own inquiries, latest activity first, marked when the desk's answer is the newest message."""
    rows = await Inquiry.select(
        Inquiry.id, Inquiry.reference, Inquiry.category, Inquiry.status, Inquiry.created_at, Inquiry.last_message_at,
    ).where(Inquiry.account == account_id).order_by(Inquiry.last_message_at, ascending=False)
    ids = [r["id"] for r in rows]
    wrote_again = await _asker_wrote_again(ids)
    replied = {r["inquiry"] for r in await InquiryMessage.select(InquiryMessage.inquiry).where(
        InquiryMessage.inquiry.is_in(ids) & (InquiryMessage.kind == "reply"))} if rows else set()
    return [{**r, "answered": r["id"] in replied and r["id"] not in wrote_again} for r in rows]


# Reply templates --------------------------------------------------------------------------------------


@dataclass
class TemplateValues:
    title: str = ""
    body: str = ""
    category: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def validate_template(form: dict) -> TemplateValues:
    values = TemplateValues(title=_text(form, "title"), body=_text(form, "body"), category=_text(form, "category"))
    if not values.title:
        values.errors["title"] = _("Enter a title.")
    elif len(values.title) > TEMPLATE_TITLE_MAX:
        values.errors["title"] = _("Use %(max)d characters or fewer.", max=TEMPLATE_TITLE_MAX)
    body_error = check_message(values.body)
    if body_error:
        values.errors["body"] = body_error
    if values.category and values.category not in CATEGORIES:
        values.errors["category"] = _("Choose from the list.")
    if values.errors:
        raise InquiryInvalid(values.errors)
    return values


async def save_template(values: TemplateValues, staff_id: int, template_id: int | None = None,
                        now: datetime | None = None) -> int:
    now = now or clock.now()
    columns = {ReplyTemplate.title: values.title, ReplyTemplate.body: values.body,
               ReplyTemplate.category: values.category, ReplyTemplate.updated_by: staff_id,
               ReplyTemplate.updated_at: now}
    if template_id is None:
        rows = await ReplyTemplate.insert(ReplyTemplate(**{c._meta.name: v for c, v in columns.items()})).returning(
            ReplyTemplate.id)
        return rows[0]["id"]
    if not await ReplyTemplate.update(columns).where(ReplyTemplate.id == template_id).returning(ReplyTemplate.id):
        raise InquiryRefused("not_found")
    return template_id


async def delete_template(template_id: int) -> None:
    if not await ReplyTemplate.delete().where(ReplyTemplate.id == template_id).returning(ReplyTemplate.id):
        raise InquiryRefused("not_found")


async def templates(category: str = "") -> list[dict]:
    """Saved answers; with a category, that category's first, then the general ones and the rest."""
    rows = await ReplyTemplate.select(
        *ReplyTemplate.all_columns(), ReplyTemplate.updated_by.display_name.as_alias("updated_by_name")
    ).order_by(ReplyTemplate.title)
    return sorted(rows, key=lambda r: (r["category"] != category, r["category"] != "", r["title"])) if category else rows


async def get_template(template_id: int) -> dict | None:
    return await ReplyTemplate.select().where(ReplyTemplate.id == template_id).first()


def fill_template(body: str, inquiry: dict) -> str:
    """A template's {name} and {reference} filled in for this asker."""
    return body.replace("{name}", inquiry["name"]).replace("{reference}", inquiry["reference"])
