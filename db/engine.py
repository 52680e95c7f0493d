"""Builds the Piccolo engine from a database URL and binds every table to it.

`db` never imports `app`: the URL is passed in by the caller (piccolo_conf.py or create_app).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sqlite3
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import datetime, timezone
from functools import lru_cache
from string import Formatter
from urllib.parse import unquote, urlsplit

import asyncpg
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine, PostgresTransaction
from piccolo.engine.sqlite import SQLiteEngine, TransactionType, dict_factory
from piccolo.querystring import QueryString
from piccolo.table import Table

log = logging.getLogger("tsunagu.db")

# Concurrent writers wait this long for SQLite's lock instead of failing at once.
SQLITE_BUSY_TIMEOUT_S = 30

# The server ended the session (pg_terminate_backend, a restart, a failover): whatever the session had not
# committed was rolled back with it.
SESSION_ENDED = (asyncpg.exceptions.AdminShutdownError, asyncpg.exceptions.CrashShutdownError,
                 asyncpg.exceptions.CannotConnectNowError)


def connection_lost(exc: BaseException) -> bool:
    """The database connection died, or no new one could be made: nothing wrong with the statement."""
    if isinstance(exc, (*SESSION_ENDED, asyncpg.exceptions.PostgresConnectionError, ConnectionError)):
        return True
    if isinstance(exc, asyncpg.exceptions.InterfaceError) and "connection is closed" in str(exc):
        return True
    # The server's "terminating connection" arrived while the connection was idle in the pool: asyncpg waits
    # for a ready-for-query that will never come and refuses the next statement before sending it.
    return isinstance(exc, asyncpg.exceptions.InternalClientError) and "another operation" in str(exc)


def unavailable(exc: BaseException) -> bool:
    """The database cannot serve this request right now (a lost connection, or SQLite's lock held past the
    busy timeout): the person should try again in a moment, nothing is wrong with what they sent."""
    if connection_lost(exc):
        return True
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _resendable(exc: BaseException, query: str) -> bool:
    """Whether a statement sent alone (not in a transaction) can be sent again on a new connection: it cannot
    have changed anything if the server ended the session before or while running it (rolled back with the
    session) or the connection was closed before it was sent. Lost in the middle of the exchange, only a read
    is sent again: a write may have committed before its answer was lost."""
    if isinstance(exc, asyncpg.exceptions.PostgresConnectionError):
        return query.lstrip()[:6].upper() == "SELECT"
    return connection_lost(exc)


class _Transaction(PostgresTransaction):
    """Piccolo's transaction, made to survive a dead pooled connection: BEGIN on a connection that died
    while idle is sent again on a new one, and a transaction whose connection dies gives its connection back
    to the pool (Piccolo's own skipped that when the rollback failed, and the pool ran dry)."""

    async def begin(self) -> None:
        try:
            await super().begin()
        except Exception as exc:
            if not connection_lost(exc):
                raise
            self.engine.note_connection_lost(exc, resent=True)
            with suppress(asyncpg.exceptions.InterfaceError):
                self.connection.terminate()
            await self.engine.pool.release(self.connection)
            await self.engine.pool.expire_connections()
            self.connection = await self.get_connection()
            self.transaction = self.connection.transaction()
            await super().begin()

    async def rollback(self) -> None:
        try:
            await super().rollback()
        except Exception as exc:
            if not connection_lost(exc):
                raise
            self._rolled_back = True  # by the server, with the session

    async def __aexit__(self, exception_type, exception, traceback) -> bool:
        if self._parent:
            return exception is None
        try:
            if exception:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
        except Exception as exc:
            if connection_lost(exc):  # COMMIT's answer lost: the outcome is unknown, the person is asked to retry
                self.engine.note_connection_lost(exc, resent=False)
            raise
        finally:
            if self.engine.pool:
                await self.engine.pool.release(self.connection)
            else:
                await self.connection.close()
            self.engine.current_transaction.reset(self.context)
        return exception is None


class ResilientPostgresEngine(PostgresEngine):
    """PostgresEngine that sends a statement once more on a new connection when its connection had died
    (see `_resendable`), and remembers such failures for the health check."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.connections_lost = 0
        self.last_connection_lost_at: datetime | None = None

    def note_connection_lost(self, exc: BaseException, resent: bool) -> None:
        self.connections_lost += 1
        self.last_connection_lost_at = datetime.now(timezone.utc)
        log.warning("database connection lost (%s: %s); %s", type(exc).__name__, exc,
                    "sent again on a new connection" if resent else "the request is asked to try again")

    def transaction(self, allow_nested: bool = True) -> PostgresTransaction:
        return _Transaction(engine=self, allow_nested=allow_nested)

    async def _run_in_pool(self, query: str, args=None):
        for attempt in (1, 2):
            async with self.pool.acquire() as connection:
                try:
                    return await connection.fetch(query, *(args or ()))
                except Exception as exc:
                    if not connection_lost(exc):
                        raise
                    # Never back into the pool as it is: a connection that failed mid-exchange keeps its
                    # protocol state, and the next statement on it would fail for that. (One asyncpg has
                    # already seen close is detached from its pool and refuses this.)
                    with suppress(asyncpg.exceptions.InterfaceError):
                        connection.terminate()
                    resend = attempt == 1 and _resendable(exc, query)
                    self.note_connection_lost(exc, resent=resend)
                    if not resend:
                        raise
            # A server that ended one connection (a restart, a failover) most often ended them all: every
            # pooled connection is replaced when next taken, so the second attempt gets a new one.
            await self.pool.expire_connections()
        raise AssertionError("unreachable: the second attempt returns or raises")


READ_THREADS = 4


class ReadingSQLiteEngine(SQLiteEngine):
    """SQLiteEngine whose statements outside a transaction run on connections kept open, in threads of their own.

    Piccolo opens a new aiosqlite connection for every statement: a thread started, the file opened, and SQLite
    parsing the whole schema again before the first statement, ≈ 1.3 ms of CPU, against ≈ 0.04 ms for an indexed
    SELECT and ≈ 0.5 ms for an INSERT on a connection already open; a member page of five queries spent most of
    its time there. A SELECT needs nothing of a new connection: in autocommit it takes SQLite's shared lock only
    while it runs (its rows are fetched at once), so writers on their own connections wait no longer than
    before. A few read threads, so that a long report does not hold up every session lookup behind it.

    A write sent alone commits by itself (autocommit), on the one writer thread's connection: SQLite lets one
    writer at a time anyway, and a write waiting for the lock (busy timeout) waits there as it did on a
    connection of its own. Transactions keep Piccolo's way, a connection of their own. Each connection lives in
    its thread and is used only there, so any event loop can send it a statement (the tests run the app and
    themselves on different loops)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._reads = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="sqlite-reads")
        self._writes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writes")
        self._local = threading.local()  # each thread's own connection, opened there on its first statement
        self._kept: list[sqlite3.Connection] = []

    def _run_kept(self, query: str, args: list) -> list[dict]:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = sqlite3.connect(**self.connection_kwargs, check_same_thread=False)
            connection.row_factory = dict_factory
            connection.execute("PRAGMA foreign_keys = 1")  # as Piccolo sets on each connection it opens
            self._kept.append(connection)
        cursor = connection.execute(query, args)
        try:
            return cursor.fetchall()
        finally:
            cursor.close()

    async def close_kept(self) -> None:
        """At the end of the lifespan, when no statement is running."""
        kept, self._kept = self._kept, []
        self._local = threading.local()
        for connection in kept:
            connection.close()

    async def _run_in_new_connection(self, query: str, args=None, query_type: str = "generic", table=None):
        if query_type == "insert" and sqlite3.sqlite_version_info < (3, 35):  # no RETURNING: Piccolo's own way
            return await super()._run_in_new_connection(query, args, query_type, table)
        threads = self._reads if query_type == "generic" and query.lstrip()[:6].upper() == "SELECT" else self._writes
        return await asyncio.get_running_loop().run_in_executor(threads, self._run_kept, query, args or [])


@lru_cache(maxsize=64)
def numbered(sql: str) -> str:
    """A statement's `{}` placeholders, as `raw` takes them, numbered for PostgreSQL ($1, $2, …), once per text."""
    number = itertools.count(1)
    return "".join(literal + (f"${next(number)}" if field is not None else "")
                   for literal, field, _, _ in Formatter().parse(sql))


async def fetch(table: type[Table], sql: str, *args) -> list[dict]:
    """`table.raw(sql, *args)`, for the statements that requests send most (a login's lookup, a rate count, a
    redemption): on PostgreSQL straight to the connection, in the current transaction if there is one, else
    through the pool as `_run_in_pool` sends (again on a new connection, if the old one had died). Piccolo's raw
    query builds a QueryString, numbers its placeholders and runs its result hooks for every call: a sixth of a
    redemption's CPU went there for its three statements. SQLite, and an engine without its pool (a command
    outside the app), keep Piccolo's way."""
    engine = table._meta.db
    if not isinstance(engine, ResilientPostgresEngine) or not engine.pool:
        return await table.raw(sql, *args)
    transaction = engine.current_transaction.get()
    if transaction is not None:
        rows = await transaction.connection.fetch(numbered(sql), *args)
    else:
        rows = await engine._run_in_pool(numbered(sql), args)
    return [dict(row) for row in rows]


def writes_inside_with(table: type[Table]) -> bool:
    """Whether a statement on `table`'s database may write inside WITH (`WITH … AS (INSERT … RETURNING …)`), so that
    a read and a write are one round trip: PostgreSQL may; SQLite has no INSERT inside WITH."""
    return isinstance(table._meta.db, PostgresEngine)


def make_engine(database_url: str) -> Engine:
    parts = urlsplit(database_url)
    if parts.scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path
        path = unquote(database_url.split("sqlite:///", 1)[1])
        return ReadingSQLiteEngine(path=path, timeout=SQLITE_BUSY_TIMEOUT_S)
    if parts.scheme in ("postgres", "postgresql"):
        return ResilientPostgresEngine(config={"dsn": database_url})
    raise ValueError(f"unsupported DATABASE_URL scheme: {parts.scheme!r}")


def bind(engine: Engine) -> None:
    """Point every table of the app at `engine` (tests and create_app choose the database at run time)."""
    from db.piccolo_app import APP_CONFIG

    for table in APP_CONFIG.table_classes:
        table._meta.db = engine


async def keep_session(connection: asyncpg.Connection) -> None:
    """The pool's `reset`: nothing more to do when a connection comes back (issue #17).

    By default asyncpg runs `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` on every
    connection given back to the pool: one more round trip for every query sent outside a transaction, which
    doubled the round trips of a redemption. The app keeps no state in a session: no advisory locks, no
    cursors outside a transaction, no LISTEN, no SET (only SET LOCAL would be safe, and none is used), so there
    is nothing to undo. What can be left behind is an open transaction, and asyncpg's own step before this
    hook (`Connection._reset`) still rolls that back and drops listeners; a connection whose reset fails is
    closed, as before. Anything that starts keeping session state must undo it itself or bring RESET ALL back
    here."""


async def open_pool(engine: Engine) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=2, max_size=20, reset=keep_session)


async def close_pool(engine: Engine) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.close_connection_pool()
    elif isinstance(engine, ReadingSQLiteEngine):
        await engine.close_kept()


async def ping(engine: Engine) -> None:
    """The cheapest query there is: it raises if the database cannot be reached (the health check)."""
    await engine.run_querystring(QueryString("SELECT 1"))


def connection_losses(engine: Engine) -> dict:
    """Connections lost since the process started, and when the last was: the pool replaces them silently,
    so the health check reports them for monitoring to see that the database dropped us."""
    if not isinstance(engine, ResilientPostgresEngine):
        return {"database_connections_lost": 0}
    figures = {"database_connections_lost": engine.connections_lost}
    if engine.last_connection_lost_at is not None:
        figures["last_database_connection_lost_at"] = engine.last_connection_lost_at.isoformat()
    return figures


def atomic(engine: Engine):
    """A write transaction. On SQLite it takes the write lock at BEGIN (IMMEDIATE), so two writers queue
    on the busy timeout instead of one failing when both try to upgrade a read lock."""
    if isinstance(engine, SQLiteEngine):
        return engine.transaction(transaction_type=TransactionType.immediate)
    return engine.transaction()


# Ids are 32-bit serials: a larger number (from a URL or a form) cannot be a row, and PostgreSQL would refuse
# to compare it with the column instead of finding nothing.
ROW_ID_MAX = 2**31 - 1


def is_row_id(number: int) -> bool:
    return 0 < number <= ROW_ID_MAX


def row_id(text: str) -> int | None:
    """The id a form or an address names, or None when the text could not be a row's id."""
    return int(text) if text.isascii() and text.isdecimal() and is_row_id(int(text)) else None


def row_ids(texts: Iterable[str]) -> list[int] | None:
    """The ids a form names (ticked boxes), sorted, each once; None when one of them could not be a row's id."""
    wanted = [row_id(text) for text in texts]
    return None if None in wanted else sorted(set(wanted))


def is_unique_violation(exc: BaseException) -> bool:
    """A write refused by a unique constraint: the database's "this already happened" on either engine."""
    if isinstance(exc, asyncpg.exceptions.UniqueViolationError):
        return True
    return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)
