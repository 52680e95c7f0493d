"""Telling one person of a decision about them on every channel they have: the inbox and push (one
notification addressed to them) and, when they gave an address, mail through the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.services.notify import outbox, push_notifications
from app.services.notify.push_notifications import Target
from app.settings import Smtp

TITLE_MAX = 120
BODY_MAX = 500  # what a notification keeps; a message written to fit it loses nothing (journeys/first_use_programs.py)
TOPIC = "personal"  # always pushed to the person's devices; left out of the secretariat's broadcast record


@dataclass(frozen=True)
class Told:
    """How a decision reaches the person besides the inbox and push: the mail server and the site's address for the
    link in the mail (the routes and the background round pass the settings' own)."""

    smtp: Smtp | None = None
    base_url: str = ""


INBOX_AND_PUSH_ONLY = Told()  # no mail: tests and the demo data


async def tell(account_id: int, title: str, body: str, url: str, *, smtp: Smtp | None = None, email: str = "",
               base_url: str = "", purpose: str = "personal", now: datetime | None = None) -> None:
    await push_notifications.create_notification(Target(topic=TOPIC, account_ids=[account_id]), title[:TITLE_MAX], body[:BODY_MAX],
                                                 url, None, send_at=now)
    if smtp is not None and email:
        link = f"{base_url}{url}" if base_url else url
        await outbox.enqueue(smtp, email, title, f"{body}\n\n{link}\n", purpose, now=now)


async def tell_by(told: Told, account_id: int, title: str, body: str, url: str, email: str, purpose: str,
                  now: datetime | None = None) -> None:
    """`tell`, with the mail `told` allows to `email` (none without a mail server or an address)."""
    await tell(account_id, title, body, url, smtp=told.smtp, email=email, base_url=told.base_url, purpose=purpose, now=now)
