"""Telling one person of a decision about them on every channel they have: the inbox and push (one
notification addressed to them) and, when they gave an address, mail through the outbox."""

from __future__ import annotations

from datetime import datetime

from app.services.notify import outbox, push_notifications
from app.services.notify.push_notifications import Target
from app.settings import Smtp

TITLE_MAX = 120
BODY_MAX = 500  # what a notification keeps; a message written to fit it loses nothing (journeys/first_use_programs.py)
TOPIC = "personal"  # always pushed to the person's devices; left out of the secretariat's broadcast record


async def tell(account_id: int, title: str, body: str, url: str, *, smtp: Smtp | None = None, email: str = "",
               base_url: str = "", purpose: str = "personal", now: datetime | None = None) -> None:
    await push_notifications.create_notification(Target(topic=TOPIC, account_ids=[account_id]), title[:TITLE_MAX], body[:BODY_MAX],
                                                 url, None, send_at=now)
    if smtp is not None and email:
        link = f"{base_url}{url}" if base_url else url
        await outbox.enqueue(smtp, email, title, f"{body}\n\n{link}\n", purpose, now=now)
