"""The database pool is opened and closed with the app (PostgreSQL; SQLite has none); a server process sets its
startup heap aside from the cycle collector."""

import subprocess
import sys

import pytest
from piccolo.engine.postgres import PostgresEngine

from app import main
from app.main import create_app
from db import engine as db_engine
from tests.conftest import ROOT, USE_POSTGRES, server_environment


async def test_the_lifespan_opens_and_closes_the_pool(settings, monkeypatch):
    monkeypatch.setattr(main, "make_engine", db_engine.make_engine)
    monkeypatch.setattr(main, "open_pool", db_engine.open_pool)
    monkeypatch.setattr(main, "close_pool", db_engine.close_pool)
    app = create_app(settings)
    engine = app.state.engine
    async with app.lifespan():
        if isinstance(engine, PostgresEngine):
            assert engine.pool is not None
        assert await engine.run_ddl("SELECT 1") is not None
    if isinstance(engine, PostgresEngine):
        assert engine.pool is None


@pytest.mark.skipif(not USE_POSTGRES, reason="SQLite has no pool")
async def test_the_pool_rolls_back_a_connection_given_back_in_a_transaction_and_sends_nothing_otherwise(database_url):
    engine = db_engine.make_engine(database_url)
    await db_engine.open_pool(engine)
    try:
        async with engine.pool.acquire() as connection:
            await connection.execute("BEGIN")
            await connection.execute("CREATE TEMP TABLE left_open (id int)")
            backend = await connection.fetchval("SELECT pg_backend_pid()")
        # asyncpg's own step before the pool's reset rolled the transaction back (the pool holds two connections)
        both = [await engine.pool.acquire(), await engine.pool.acquire()]
        try:
            same = [c for c in both if await c.fetchval("SELECT pg_backend_pid()") == backend]
            assert len(same) == 1 and not same[0].is_in_transaction()
            assert await same[0].fetchval("SELECT to_regclass('pg_temp.left_open')::text") is None
        finally:
            for connection in both:
                await engine.pool.release(connection)
        # outside a transaction nothing more is sent: no RESET ALL, no UNLISTEN, one query, one round trip
        async with engine.pool.acquire() as connection:
            protocol = connection._protocol
            sent = protocol.queries_count
            await connection.fetchval("SELECT 1")
        assert protocol.queries_count == sent + 1
    finally:
        await db_engine.close_pool(engine)


SERVER_START = """
import asyncio, gc
from app.asgi import app
async def main():
    before = gc.get_freeze_count()
    async with app.lifespan():
        print(before, gc.get_freeze_count())
asyncio.run(main())
"""


def test_a_server_process_sets_what_it_made_to_start_aside_from_the_cycle_collector(settings, database_url):
    started = subprocess.run([sys.executable, "-c", SERVER_START], cwd=ROOT, env=server_environment(settings, database_url),
                             capture_output=True, text=True, timeout=60)
    assert started.returncode == 0, started.stderr
    before, after = map(int, started.stdout.split())
    assert before == 0 and after > 50_000
