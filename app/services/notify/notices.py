"""The in-app inbox (お知らせ): nothing a person should know is lost for want of push."""

from __future__ import annotations

from datetime import datetime

from app.services.shared import clock
from db.tables import Notice


async def notify(account_id: int | None, title: str, body: str = "", url: str = "", now: datetime | None = None) -> None:
    if account_id is None:
        return
    await Notice.insert(Notice(account=account_id, title=title[:200], body=body, url=url[:500], created_at=now or clock.now()))


async def inbox(account_id: int, limit: int = 50) -> list[dict]:
    return await Notice.select().where(Notice.account == account_id).order_by(Notice.created_at, ascending=False).limit(limit)


def unread_of(account_id_column: str) -> str:
    """The count of an account's unread notices as a subquery (the same text on both databases). Every member page
    shows it on the inbox tab, so the login's lookup reads it (membership/login_sessions.py RESOLVE_SQL): one
    statement a page fewer than counting apart, and Piccolo building its COUNT cost ≈ 0.25 ms of CPU a page."""
    return f"(SELECT COUNT(*) FROM notice AS n WHERE n.account = {account_id_column} AND n.read_at IS NULL)"


async def mark_all_read(account_id: int) -> None:
    await Notice.update({Notice.read_at: clock.now()}).where((Notice.account == account_id) & Notice.read_at.is_null())


def absolute(base_url: str, url: str) -> str:
    """A notice's link read outside the app (LINE, mail): a page of this site with the site's origin, or as it is."""
    return f"{base_url}{url}" if url.startswith("/") else url
