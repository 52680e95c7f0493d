"""The rate-limit counters hold under a burst and across processes, in the database (SQLite or PostgreSQL,
whichever this run uses) and in Redis: N hits at once get the counts 1…N, each exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from app.services.shared import rate_counts
from db.tables import RateCount
from tests.conftest import requires_redis

ROOT = Path(__file__).resolve().parents[3]
REDIS_URL = "redis://127.0.0.1:6379/15"
# 12:00:20 UTC: the one-minute window ends at 12:01:00, 40 seconds later.
NOW = datetime(2026, 12, 6, 12, 0, 20, tzinfo=timezone.utc)


def redis_prefix() -> str:
    """Keys of this test only, so tests running at the same time on the same Redis never share a count."""
    return f"test:rate:{uuid.uuid4().hex}"


@asynccontextmanager
async def in_redis():
    counter = rate_counts.InRedis(aioredis.from_url(REDIS_URL), redis_prefix())
    try:
        yield counter
    finally:
        keys = [key async for key in counter.redis.scan_iter(match=counter.prefix + ":*")]
        if keys:
            await counter.redis.delete(*keys)
        await counter.close()


@pytest.fixture(params=["database", pytest.param("redis", marks=requires_redis)])
async def counts(request):
    if request.param == "database":
        yield rate_counts.InDatabase()
        return
    async with in_redis() as counter:
        yield counter


async def test_a_burst_of_150_hits_gets_each_count_from_1_to_150_once(counts):
    hits = await asyncio.gather(*[counts.hit("scan:account:7", NOW, 60) for _ in range(150)])
    assert sorted(hit.count for hit in hits) == list(range(1, 151))
    assert len([hit for hit in hits if hit.count <= 60]) == 60


async def test_each_key_counts_on_its_own(counts):
    await counts.hit("auth:192.0.2.1", NOW, 60)
    assert (await counts.hit("auth:192.0.2.1", NOW, 60)).count == 2
    assert (await counts.hit("auth:192.0.2.2", NOW, 60)).count == 1
    assert (await counts.hit("scan:192.0.2.1", NOW, 60)).count == 1


async def test_the_next_window_starts_again_at_one(counts):
    for _ in range(3):
        last = await counts.hit("auth:192.0.2.1", NOW, 60)
    assert last.count == 3
    assert (await counts.hit("auth:192.0.2.1", NOW + timedelta(seconds=39), 60)).count == 4
    assert (await counts.hit("auth:192.0.2.1", NOW + timedelta(seconds=40), 60)).count == 1


async def test_retry_after_is_the_time_left_in_the_window(counts):
    hit = await counts.hit("auth:192.0.2.1", NOW, 60)
    assert hit.window_ends == int(datetime(2026, 12, 6, 12, 1, tzinfo=timezone.utc).timestamp())
    assert hit.retry_after(NOW) == 40
    assert hit.retry_after(NOW + timedelta(seconds=39, milliseconds=500)) == 1
    assert hit.retry_after(NOW + timedelta(seconds=45)) == 1  # never 0: "try again now" would be refused


async def test_the_first_hit_of_a_window_deletes_the_rows_of_ended_windows():
    counts = rate_counts.InDatabase()
    await counts.hit("auth:192.0.2.1", NOW, 60)
    await counts.hit("auth:192.0.2.2", NOW, 60)
    assert await RateCount.count() == 2
    later = NOW + timedelta(minutes=1)
    await counts.hit("auth:192.0.2.3", later, 60)
    assert [row["key"] for row in await RateCount.select(RateCount.key)] == ["auth:192.0.2.3"]


@requires_redis
async def test_a_redis_key_names_its_window_and_expires_by_itself():
    async with in_redis() as counter:
        hit = await counter.hit("auth:192.0.2.1", NOW, 60)
        name = f"{counter.prefix}:auth:192.0.2.1:{hit.window_ends}"
        assert await counter.redis.get(name) == b"1"
        assert 0 < await counter.redis.ttl(name) <= 120


# --- two processes --------------------------------------------------------------------------------------

HITTER = """
import asyncio, json, sys, time
from datetime import datetime
from app.services.shared import rate_counts
from db.engine import bind, close_pool, make_engine, open_pool

async def main(store, target, prefix, key, now, n, start_at):
    if store == "redis":
        import redis.asyncio as aioredis
        counts = rate_counts.InRedis(aioredis.from_url(target), prefix)
    else:
        engine = make_engine(target)
        bind(engine)
        await open_pool(engine)  # on PostgreSQL the app's pool, as an app process has
        counts = rate_counts.InDatabase()
    await asyncio.sleep(start_at - time.time())  # both processes begin their burst at the same moment
    hits = await asyncio.gather(*[counts.hit(key, datetime.fromisoformat(now), 60) for _ in range(n)])
    await counts.close()
    if store != "redis":
        await close_pool(engine)
    print(json.dumps([hit.count for hit in hits]))

asyncio.run(main(*sys.argv[1:6], int(sys.argv[6]), float(sys.argv[7])))
"""


def hit_in_processes(store: str, target: str, prefix: str, per_process: int, processes: int = 2) -> list[int]:
    """`processes` Python processes, started together, each hitting the same key `per_process` times at once."""
    start_at = time.time() + 3  # time for every process to start and connect
    command = [sys.executable, "-c", HITTER, store, target, prefix, "scan:account:7", NOW.isoformat(), str(per_process),
               str(start_at)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    running = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(processes)]
    counts: list[int] = []
    for process in running:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        counts += json.loads(out)
    return counts


@pytest.mark.parametrize("store", ["database", pytest.param("redis", marks=requires_redis)])
def test_two_processes_hitting_the_same_key_lose_no_count(store, database_url):
    prefix = redis_prefix()
    target = database_url if store == "database" else REDIS_URL
    counts = hit_in_processes(store, target, prefix, per_process=100)
    assert sorted(counts) == list(range(1, 201))
    assert len([count for count in counts if count <= 60]) == 60


async def test_the_counts_are_written_without_the_write_ahead_log_on_postgresql():
    """A hit's commit does not wait for a disk flush while it holds the shop account's row (migration 09:20)."""
    if RateCount._meta.db.engine_type != "postgres":
        pytest.skip("SQLite has no unlogged tables")
    rows = await RateCount.raw("SELECT relpersistence::text AS p FROM pg_class WHERE relname = 'rate_count'")
    assert rows == [{"p": "u"}]
