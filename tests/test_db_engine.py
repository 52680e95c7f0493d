"""db/engine.py: on SQLite, statements outside a transaction run on connections kept open (ReadingSQLiteEngine);
what a read sees, and what a write sent alone commits, must not change for it, on either database."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing

import pytest

from db.engine import ReadingSQLiteEngine, atomic, close_pool, fetch, numbered, row_id, row_ids
from db.tables import Area, Shop


async def test_a_read_sees_a_write_at_once_and_a_transaction_reads_its_own_writes():
    await Area.insert(Area(name="苫小牧", slug="tomakomai"))
    assert [row["name"] for row in await Area.select(Area.name)] == ["苫小牧"]
    async with atomic(Area._meta.db):
        await Area.insert(Area(name="白老", slug="shiraoi"))
        inside = await Area.count()
        assert inside == 2
    await Area.update({Area.name: "苫小牧市"}).where(Area.slug == "tomakomai")
    assert sorted(row["name"] for row in await Area.raw("SELECT name FROM area")) == ["白老", "苫小牧市"]


async def test_a_transaction_rolled_back_leaves_nothing_for_later_reads():
    with pytest.raises(RuntimeError):
        async with atomic(Area._meta.db):
            await Area.insert(Area(name="安平", slug="abira"))
            raise RuntimeError("undo")
    assert await Area.count() == 0


async def test_fetch_answers_as_raw_does_and_inside_a_transaction_sees_and_undoes_with_it():
    await Area.insert(Area(name="苫小牧", slug="tomakomai"))
    select = "SELECT name, slug FROM area WHERE slug = {} OR name = {} ORDER BY name"
    assert await fetch(Area, select, "tomakomai", "白老") == await Area.raw(select, "tomakomai", "白老")
    assert await fetch(Area, "SELECT name FROM area WHERE slug = {}", "nowhere") == []
    with pytest.raises(RuntimeError):
        async with atomic(Area._meta.db):
            inserted = await fetch(Area, "INSERT INTO area (name, slug) VALUES ({}, {}) RETURNING slug", "白老", "shiraoi")
            assert inserted == [{"slug": "shiraoi"}]
            assert len(await fetch(Area, "SELECT id FROM area")) == 2  # the transaction's own connection
            raise RuntimeError("undo")
    assert await fetch(Area, "SELECT slug FROM area") == [{"slug": "tomakomai"}]


def test_placeholders_are_numbered_in_order_and_a_doubled_brace_is_a_brace():
    assert numbered("SELECT {} FROM t WHERE a = {} AND b = {}") == "SELECT $1 FROM t WHERE a = $2 AND b = $3"
    assert numbered("SELECT '{{}}'::jsonb, {}") == "SELECT '{}'::jsonb, $1"
    assert numbered("SELECT 1") == "SELECT 1"


async def test_on_sqlite_reads_reuse_their_connections_and_hold_no_lock_once_answered():
    engine = Area._meta.db
    if not isinstance(engine, ReadingSQLiteEngine):
        pytest.skip("SQLite only: PostgreSQL reads come from the pool")
    await Area.insert(Area(name="苫小牧", slug="tomakomai"))
    for _ in range(10):
        assert await Area.count() == 1
    assert 2 <= len(engine._kept) <= 5  # kept open: the writer's and one per read thread at most
    with closing(sqlite3.connect(engine.path, timeout=0)) as writer:  # would fail at once if a read held a lock
        writer.execute("BEGIN EXCLUSIVE")
        writer.execute("UPDATE area SET name = '苫小牧市'")
        writer.commit()
    assert (await Area.select(Area.name).first())["name"] == "苫小牧市"
    await close_pool(engine)
    assert engine._kept == []
    assert await Area.count() == 1  # a read after closing opens a connection again


async def test_on_sqlite_a_write_sent_alone_commits_at_once_checks_foreign_keys_and_waits_for_the_lock():
    engine = Area._meta.db
    if not isinstance(engine, ReadingSQLiteEngine):
        pytest.skip("SQLite only: PostgreSQL writes come from the pool")
    await Area.insert(Area(name="苫小牧", slug="tomakomai"))
    with closing(sqlite3.connect(engine.path, timeout=0)) as other:  # committed: another connection sees it at once
        assert other.execute("SELECT name FROM area").fetchall() == [("苫小牧",)]
    with pytest.raises(sqlite3.IntegrityError):  # the kept writer checks foreign keys as Piccolo's connections do
        await Shop.insert(Shop(name="どこにもない地区の店", area=424242))
    holder = sqlite3.connect(engine.path, timeout=0, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock for a moment
        waiting = asyncio.ensure_future(Area.update({Area.name: "苫小牧市"}).where(Area.slug == "tomakomai"))
        await asyncio.sleep(0.2)
        assert not waiting.done()  # waits on the busy timeout, neither failing nor skipping
        holder.execute("COMMIT")
        await asyncio.wait_for(waiting, 10)
    finally:
        holder.close()
    assert (await Area.select(Area.name).first())["name"] == "苫小牧市"


@pytest.mark.parametrize(("text", "expected"), [
    ("12", 12), ("2147483647", 2147483647), ("2147483648", None), ("0", None), ("-1", None), ("", None),
    ("１２", None), ("1e3", None), (" 12", None),
])
def test_an_id_is_read_from_text_only_when_it_could_be_a_rows(text, expected):
    assert row_id(text) == expected
    assert row_ids([text, "3", text]) == (None if expected is None else sorted({3, expected}))
