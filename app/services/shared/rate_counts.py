"""Fixed-window counters for rate limits: atomic, and shared by every process that uses the same store.

A hit counts one request under `key` in the window that contains `now` and answers the count with that
request included. It is one atomic step in the store, never a read and then a write, so N requests at
the same moment get the counts 1…N and exactly `limit` of them see a count within the limit.

- `InDatabase` (the default): one statement,
  `INSERT … ON CONFLICT (key, window_ends) DO UPDATE SET hits = hits + 1 RETURNING hits`, which SQLite
  (3.35 and later) and PostgreSQL both run atomically; the unique index is `rate_count_key_window`.
  The first hit of a window deletes the rows of windows that have ended (one indexed range delete).
  On PostgreSQL the table is UNLOGGED (migration 2026-12-06T09:20): a hit's commit does not wait for a disk
  flush while it holds the row that every scan of a shop account adds to; the counts start over after a
  crash of the database server, which a rate limit can afford.
- `InRedis` (with REDIS_URL): `SET name 0 EX … NX` and `INCR name` in one MULTI/EXEC; the key names its
  window and expires by itself.

Windows are aligned to the clock (a one-minute window ends on the minute), so every process agrees on
them without talking to the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from db.engine import fetch
from db.tables import RateCount


def upsert(rows: str) -> str:
    """The counting statement for `rows` (key, window_ends, 1): one `VALUES`, or a `SELECT` where the count is
    part of a larger statement (app/services/membership/login_sessions.py counts a scan with the login's lookup)."""
    return (f'INSERT INTO "rate_count" ("key", "window_ends", "hits") {rows} '
            'ON CONFLICT ("key", "window_ends") DO UPDATE SET "hits" = "rate_count"."hits" + 1 RETURNING "hits"')


UPSERT = upsert("VALUES ({}, {}, 1)")


@dataclass(frozen=True)
class Hit:
    count: int  # requests in this window, this one included
    window_ends: int  # Unix seconds

    def retry_after(self, now: datetime) -> int:
        """Whole seconds until the window ends (at least 1): what a refused client should wait."""
        return max(1, math.ceil(self.window_ends - now.timestamp()))


def window_ends(now: datetime, window_s: int) -> int:
    return (math.floor(now.timestamp()) // window_s + 1) * window_s


class InDatabase:
    async def hit(self, key: str, now: datetime, window_s: int) -> Hit:
        ends = window_ends(now, window_s)
        rows = await fetch(RateCount, UPSERT, key, ends)
        return await self.counted(rows[0]["hits"], ends, now)

    @staticmethod
    async def counted(count: int, ends: int, now: datetime) -> Hit:
        """A hit this store counted, here or inside another statement: the first of a window deletes the rows of
        windows that have ended."""
        if count == 1:
            await RateCount.delete().where(RateCount.window_ends <= math.floor(now.timestamp()))
        return Hit(count, ends)

    async def close(self) -> None:
        """Nothing to close: the rows live in the app's own database."""


class InRedis:
    def __init__(self, redis, prefix: str = "tsunagu:rate") -> None:
        self.redis = redis  # a redis.asyncio.Redis
        self.prefix = prefix

    async def hit(self, key: str, now: datetime, window_s: int) -> Hit:
        ends = window_ends(now, window_s)
        name = f"{self.prefix}:{key}:{ends}"
        async with self.redis.pipeline(transaction=True) as pipe:
            # Kept for two windows: long enough for a clock a little behind, gone soon after.
            pipe.set(name, 0, ex=2 * window_s, nx=True)
            pipe.incr(name)
            _created, count = await pipe.execute()
        return Hit(int(count), ends)

    async def close(self) -> None:
        await self.redis.aclose()
