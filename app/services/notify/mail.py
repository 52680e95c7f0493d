"""Sending mail: SMTP when a host is configured, otherwise files under var/mail (so `make run` needs no
mail server and a developer can read what would have been sent)."""

from __future__ import annotations

import asyncio
import secrets
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from app.services.shared import clock
from app.settings import Smtp

SMTP_TIMEOUT_S = 20


class MailError(Exception):
    pass


def message_id(smtp: Smtp) -> str:
    return make_msgid(domain=smtp.mail_from.rpartition("@")[2] or "localhost")


def build_message(smtp: Smtp, to: str, subject: str, body: str, *, msgid: str = "", reply_to: str = "",
                  in_reply_to: str = "") -> EmailMessage:
    message = EmailMessage()
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
    message.set_content(body, charset="utf-8")
    return message


def _send_smtp(smtp: Smtp, message: EmailMessage) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=SMTP_TIMEOUT_S) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.username:
            client.login(smtp.username, smtp.password)
        client.send_message(message)


def _write_file(mail_dir: Path, message: EmailMessage) -> Path:
    mail_dir.mkdir(parents=True, exist_ok=True)
    path = mail_dir / f"{clock.now():%Y%m%dT%H%M%S}-{secrets.token_hex(4)}.eml"
    path.write_bytes(message.as_bytes())
    return path


async def send_mail(smtp: Smtp, mail_dir: Path, to: str, subject: str, body: str, **headers: str) -> None:
    message = build_message(smtp, to, subject, body, **headers)
    try:
        if smtp.enabled:
            await asyncio.to_thread(_send_smtp, smtp, message)
        else:
            await asyncio.to_thread(_write_file, mail_dir, message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(str(exc)) from exc
