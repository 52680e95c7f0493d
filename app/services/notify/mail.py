"""Sending mail: SMTP when a host is configured, otherwise files under var/mail (so `make run` needs no
mail server and a developer can read what would have been sent)."""

from __future__ import annotations

import asyncio
import secrets
import smtplib
from datetime import datetime, timezone
from email import policy
from email.headerregistry import HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, make_msgid
from pathlib import Path

from app.services.shared import clock
from app.settings import Smtp

SMTP_TIMEOUT_S = 20


class MailError(Exception):
    pass


def message_id(smtp: Smtp) -> str:
    return make_msgid(domain=smtp.mail_from.rpartition("@")[2] or "localhost")


class _OneLine(UnstructuredHeader):
    """A header of addresses kept on one line. The standard policy folds a long word (a signed link) into
    RFC 2047 encoded words, which no mail program reads back as a link; RFC 5322 allows 998 characters."""

    def fold(self, *, policy):
        line = f"{self.name}: {self}"
        if line.isascii() and len(line) <= 998:
            return line + policy.linesep
        return super().fold(policy=policy)


_HEADERS = HeaderRegistry()
_HEADERS.map_to_type("list-unsubscribe", _OneLine)
POLICY = policy.default.clone(header_factory=_HEADERS)


def build_message(smtp: Smtp, to: str, subject: str, body: str, *, msgid: str = "", reply_to: str = "",
                  in_reply_to: str = "", extra_headers: dict[str, str] | None = None) -> EmailMessage:
    message = EmailMessage(policy=POLICY)
    message["From"] = smtp.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = msgid or message_id(smtp)
    if reply_to:
        message["Reply-To"] = reply_to
    if in_reply_to:
        # Both headers, so the asker's mail program files the reply under their own message.
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    for name, value in (extra_headers or {}).items():
        message[name] = value
    message.set_content(f"{body.rstrip()}\n\n{smtp.signature}\n" if smtp.signature else body, charset="utf-8")
    return message


def _send_smtp(smtp: Smtp, message: EmailMessage) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=SMTP_TIMEOUT_S) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.username:
            client.login(smtp.username, smtp.password)
        client.send_message(message)


FILE_TIME = "%Y%m%dT%H%M%S"  # the start of a mail file's name: when it was written (UTC)


def _write_file(mail_dir: Path, message: EmailMessage, now: datetime) -> Path:
    mail_dir.mkdir(parents=True, exist_ok=True)
    path = mail_dir / f"{now.astimezone(timezone.utc):{FILE_TIME}}-{secrets.token_hex(4)}.eml"
    path.write_bytes(message.as_bytes())
    return path


async def send_mail(smtp: Smtp, mail_dir: Path, to: str, subject: str, body: str, now: datetime | None = None,
                    **headers: str) -> None:
    message = build_message(smtp, to, subject, body, **headers)
    try:
        if smtp.enabled:
            await asyncio.to_thread(_send_smtp, smtp, message)
        else:
            await asyncio.to_thread(_write_file, mail_dir, message, now or clock.now())
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(str(exc)) from exc


async def forget_files(mail_dir: Path, addresses: set[str] | frozenset[str] = frozenset(),
                       before: datetime | None = None) -> int:
    """Delete the files of mails written without a mail server (`make run`, a demo) that name one of
    `addresses` in a header or the text, or were written before `before`: erasure and retention reach them
    as they reach the outbox rows. Returns how many."""
    return await asyncio.to_thread(_forget_files, mail_dir, {a.lower() for a in addresses if a}, before)


def _forget_files(mail_dir: Path, addresses: set[str], before: datetime | None) -> int:
    if not mail_dir.is_dir():
        return 0
    forgotten = 0
    for path in sorted(mail_dir.glob("*.eml")):
        if (before is not None and _written_at(path) < before) or (addresses and _names(path, addresses)):
            path.unlink(missing_ok=True)
            forgotten += 1
    return forgotten


def _written_at(path: Path) -> datetime:
    try:
        return datetime.strptime(path.name[:15], FILE_TIME).replace(tzinfo=timezone.utc)
    except ValueError:  # not named by _write_file: its modification time
        return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)


def _names(path: Path, addresses: set[str]) -> bool:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    text = " ".join(str(value) for value in message.values())
    for part in message.walk():
        if part.get_content_maintype() == "text":
            text += " " + part.get_content()
    text = text.lower()
    return any(address in text for address in addresses)
