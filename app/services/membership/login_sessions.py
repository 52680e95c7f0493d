"""Logged-in devices. The cookie carries a random token; the table keeps only its SHA-256.

A new token at every login (so a session id planted before login is worthless), logout deletes the row,
and a member can list and end their other devices.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.services.notify import notices
from app.services.shared import clock, rate_counts
from db.engine import fetch, writes_inside_with
from db.tables import LoginSession

SESSION_TTL = timedelta(days=30)
# last_seen_at is refreshed at most this often, so reading pages does not write on every request.
TOUCH_EVERY = timedelta(minutes=5)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CurrentAccount:
    id: int
    role: str
    display_name: str
    email: str | None
    email_verified: bool
    area_id: int | None
    shop_id: int | None
    session_id: int
    # (this account's, everyone's) page versions when the account was looked up (db/page_versions.py)
    page_versions: tuple[int, int] = (0, 0)
    unread: int = 0  # notices not yet read, for the inbox tab (read with the versions, before the page)

    @property
    def is_member(self) -> bool:
        return self.role == "member"

    @property
    def shared_version(self) -> int:
        """The version of what every member's pages share (programs, articles, the portal) as this lookup read it."""
        return self.page_versions[1]


async def start(account_id: int, user_agent: str) -> str:
    token = secrets.token_urlsafe(32)
    now = clock.now()
    await LoginSession.insert(
        LoginSession(
            token_hash=token_hash(token),
            account=account_id,
            user_agent=user_agent[:300],
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_TTL,
        )
    )
    return token


# Every page a logged-in person opens starts here, so it is one statement written out once (the same text on
# SQLite and PostgreSQL; the tests run it on both): Piccolo building the same join from its column objects
# cost ≈ 0.7 ms of CPU a request, this ≈ 0.1 ms. The unique index on token_hash finds the row. The page versions
# come with it, read before the page is: a kept page (app/page_cache.py) is served again only under the same two.
# So does the count of unread notices every page rendered for a member shows.
RESOLVE_SQL = f"""
SELECT s.id AS session_id, s.last_seen_at, a.id, a.role, a.status, a.display_name, a.email, a.email_verified_at,
       a.area, a.shop,
       (SELECT v.version FROM page_version AS v WHERE v.account_id = a.id) AS account_version,
       (SELECT v.version FROM page_version AS v WHERE v.account_id = 0) AS shared_version,
       {notices.unread_of("a.id")} AS unread
FROM login_session AS s JOIN account AS a ON a.id = s.account
WHERE s.token_hash = {{}} AND s.expires_at > {{}}
"""


# A scan at the shop counter is counted against its account's limit (app/rate_limit.py) in the same statement as
# the login's lookup, where the database can write inside WITH: one round trip fewer for every scan and use.
RESOLVE_AND_COUNT_SQL = (
    f"WITH login AS ({RESOLVE_SQL}),\n"
    f"counted AS ({rate_counts.upsert('SELECT CAST({} AS varchar) || login.id, CAST({} AS bigint), 1 FROM login')})\n"
    "SELECT login.*, (SELECT hits FROM counted) AS hits FROM login"
)


async def resolve(token: str) -> CurrentAccount | None:
    now = clock.now()
    rows = await fetch(LoginSession, RESOLVE_SQL, token_hash(token), now)
    return await _logged_in(rows[0] if rows else None, now)


async def resolve_counting(token: str, key_prefix: str, window_s: int) -> tuple[CurrentAccount | None, rate_counts.Hit | None]:
    """`resolve`, and one hit counted in the database's rate counts under `key_prefix` + the login's account id, in
    the same statement. None for the hit when the token names no login. Only where `counts_with_login()`."""
    now = clock.now()
    ends = rate_counts.window_ends(now, window_s)
    rows = await fetch(LoginSession, RESOLVE_AND_COUNT_SQL, token_hash(token), now, key_prefix, ends)
    row = rows[0] if rows else None
    hit = await rate_counts.InDatabase.counted(row["hits"], ends, now) if row is not None else None
    return await _logged_in(row, now), hit


def counts_with_login() -> bool:
    return writes_inside_with(LoginSession)


async def _logged_in(row: dict | None, now: datetime) -> CurrentAccount | None:
    if row is None or row["status"] != "active":
        return None
    if now - row["last_seen_at"] > TOUCH_EVERY:
        await LoginSession.update({LoginSession.last_seen_at: now}).where(LoginSession.id == row["session_id"])
    return CurrentAccount(
        id=row["id"],
        role=row["role"],
        display_name=row["display_name"],
        email=row["email"],
        email_verified=row["email_verified_at"] is not None,
        area_id=row["area"],
        shop_id=row["shop"],
        session_id=row["session_id"],
        page_versions=(row["account_version"] or 0, row["shared_version"] or 0),
        unread=row["unread"],
    )


async def end(token: str) -> None:
    await LoginSession.delete().where(LoginSession.token_hash == token_hash(token))


async def list_for(account_id: int) -> list[dict]:
    return (
        await LoginSession.select(
            LoginSession.id, LoginSession.user_agent, LoginSession.created_at, LoginSession.last_seen_at
        )
        .where((LoginSession.account == account_id) & (LoginSession.expires_at > clock.now()))
        .order_by(LoginSession.last_seen_at, ascending=False)
    )


async def end_one(account_id: int, session_id: int) -> bool:
    deleted = await LoginSession.delete().where(
        (LoginSession.id == session_id) & (LoginSession.account == account_id)
    ).returning(LoginSession.id)
    return bool(deleted)


async def end_others(account_id: int, keep_session_id: int) -> int:
    deleted = await LoginSession.delete().where(
        (LoginSession.account == account_id) & (LoginSession.id != keep_session_id)
    ).returning(LoginSession.id)
    return len(deleted)


async def end_all(account_id: int) -> None:
    await LoginSession.delete().where(LoginSession.account == account_id)
