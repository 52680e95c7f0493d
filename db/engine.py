"""Builds the Piccolo engine from a database URL and binds every table to it.

`db` never imports `app`: the URL is passed in by the caller (piccolo_conf.py or create_app).
"""

from __future__ import annotations

import sqlite3
from urllib.parse import unquote, urlsplit

import asyncpg
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.querystring import QueryString

# Concurrent writers wait this long for SQLite's lock instead of failing at once.
SQLITE_BUSY_TIMEOUT_S = 30


def make_engine(database_url: str) -> Engine:
    parts = urlsplit(database_url)
    if parts.scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path
        path = unquote(database_url.split("sqlite:///", 1)[1])
        return SQLiteEngine(path=path, timeout=SQLITE_BUSY_TIMEOUT_S)
    if parts.scheme in ("postgres", "postgresql"):
        return PostgresEngine(config={"dsn": database_url})
    raise ValueError(f"unsupported DATABASE_URL scheme: {parts.scheme!r}")


def bind(engine: Engine) -> None:
    """Point every table of the app at `engine` (tests and create_app choose the database at run time)."""
    from db.piccolo_app import APP_CONFIG

    for table in APP_CONFIG.table_classes:
        table._meta.db = engine


async def open_pool(engine: Engine) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=2, max_size=20)


async def close_pool(engine: Engine) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.close_connection_pool()


async def ping(engine: Engine) -> None:
    """The cheapest query there is: it raises if the database cannot be reached (the health check)."""
    await engine.run_querystring(QueryString("SELECT 1"))


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


def is_unique_violation(exc: BaseException) -> bool:
    """A write refused by a unique constraint: the database's "this already happened" on either engine."""
    if isinstance(exc, asyncpg.exceptions.UniqueViolationError):
        return True
    return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)
