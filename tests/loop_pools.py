"""One asyncpg pool per event loop, for the tests on PostgreSQL.

The test client runs the app on its own event loop (a blocking-portal thread) while a test queries the
database on pytest's loop, and an asyncpg pool belongs to the loop that opened it. Without a pool every
query opened a connection of its own (≈ 6 ms and a server process each, more with the statement prepared
again), which was most of the PostgreSQL half of the suite. Piccolo's engine only calls `pool.acquire()`
(awaited or as a context manager) and `pool.release()`, so this stands in for its pool.
"""

from __future__ import annotations

import asyncio
import threading

import asyncpg

from db.engine import keep_session

# The app's own pool size (db/engine.py), so a request that would starve the real pool starves this one.
MAX_SIZE = 20


class LoopPools:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._pools: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}

    async def _pool(self) -> asyncpg.Pool:
        loop = asyncio.get_running_loop()
        creating = self._pools.get(loop)
        if creating is None:  # a task, so that queries arriving together wait for the one pool being made
            creating = self._pools[loop] = loop.create_task(self._create())
        return await creating

    async def _create(self) -> asyncpg.Pool:
        # The app's reset too (db/engine.py): the tests find what a connection left behind as the app would.
        return await asyncpg.create_pool(dsn=self._dsn, min_size=0, max_size=MAX_SIZE, reset=keep_session)

    def acquire(self) -> _Acquisition:
        return _Acquisition(self)

    async def release(self, connection: asyncpg.Connection) -> None:
        await (await self._pool()).release(connection)

    async def close_running_loops_pool(self) -> None:
        creating = self._pools.pop(asyncio.get_running_loop(), None)
        if creating is not None:
            await (await creating).close()

    def forget_closed_loops(self) -> None:
        """Pools of loops that ended without closing them (a test's own asyncio.run): their connections
        can no longer be closed politely, so the server sees them drop."""
        for loop in [loop for loop in self._pools if loop.is_closed()]:
            del self._pools[loop]


class _Acquisition:
    """Like asyncpg's PoolAcquireContext: awaited, it gives a connection to release later; as an async
    context manager, it releases on exit."""

    def __init__(self, pools: LoopPools) -> None:
        self._pools = pools
        self._pool: asyncpg.Pool | None = None
        self._connection: asyncpg.Connection | None = None

    async def _acquire(self) -> asyncpg.Connection:
        self._pool = await self._pools._pool()
        self._connection = await self._pool.acquire()
        return self._connection

    def __await__(self):
        return self._acquire().__await__()

    async def __aenter__(self) -> asyncpg.Connection:
        return await self._acquire()

    async def __aexit__(self, *exc_info) -> None:
        await self._pool.release(self._connection)


class ResetLine:
    """One connection kept open on a loop of its own (a thread) for emptying the tables before each test: made
    afresh every time, on the test's new loop, the connection and its pool cost five times the DELETEs."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._connection: asyncpg.Connection | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="reset-line", daemon=True)
        self._thread.start()

    async def execute(self, script: str) -> None:
        """Runs `script` on the kept connection; awaitable from any loop."""
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._execute(script), self._loop))

    async def _execute(self, script: str) -> None:
        if self._connection is None or self._connection.is_closed():
            self._connection = await asyncpg.connect(self._dsn)
        await self._connection.execute(script)

    def close(self) -> None:
        if self._connection is not None:
            asyncio.run_coroutine_threadsafe(self._connection.close(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()
