"""The database server terminating our connections (a restart, a failover, pg_terminate_backend by process id).

- A request whose statement meets a dead connection gets its answer all the same: the statement is sent
  once more on a new connection when it cannot have changed anything (db/engine.py). Three drops in four
  seconds under eight busy readers: no 500, at most one request in a hundred asked to try again (those
  whose second attempt was cut by the next drop).
- A request whose transaction loses its connection gets the "try again" page (503, Retry-After), in the
  person's language, with nothing written; the next request works.
- /healthz counts the connections lost, so monitoring notices what the pool repaired.

PostgreSQL only: a SQLite database is a file in the process, it has no connection a server could end.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import threading
import time

import asyncpg
import httpx
import pytest

from db.tables import Application, Program
from tests import factories
from tests.conftest import ROOT, USE_POSTGRES, log_in, server_environment

pytestmark = pytest.mark.skipif(not USE_POSTGRES, reason="a SQLite database has no connection a server could end")

TRY_AGAIN = "いま処理を完了できませんでした"
SERVER_APP = "tsunagu-dropped"  # application_name of the server process's connections, so only they are ended


async def admin(database_url: str) -> asyncpg.Connection:
    return await asyncpg.connect(database_url)


def end_the_backend_waiting_on_a_lock(database_url: str, ended: list[bool]) -> None:
    async def run() -> None:
        killer = await admin(database_url)
        try:
            for _ in range(200):  # 10 s at most
                waiting = await killer.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND wait_event_type = 'Lock' AND query LIKE 'UPDATE \"program\"%'")
                if waiting:
                    ended.append(await killer.fetchval("SELECT pg_terminate_backend($1)", waiting[0]["pid"]))
                    return
                await asyncio.sleep(0.05)
        finally:
            await killer.close()

    asyncio.run(run())


async def test_a_transaction_whose_connection_is_ended_answers_try_again_and_writes_nothing(client, database_url):
    area = await factories.area()
    program_id = await factories.program(area)
    member = await factories.member()
    await log_in(client, member.account_id)
    await client.get(f"/programs/{program_id}")

    # The program's row is held by another session, so the application's seat UPDATE waits on it; the
    # waiting backend is then ended by its process id, as an administrator or a failover would. The test
    # client blocks this event loop while the app answers, so the ending is done from a thread of its own.
    ended: list[bool] = []
    holder = await admin(database_url)
    # Bounded: should the request never wait on the row, the server ends the holder and the request goes on
    await holder.execute("SET idle_in_transaction_session_timeout = '20s'")
    try:
        lock = holder.transaction()
        await lock.start()
        await holder.execute("SELECT id FROM program WHERE id = $1 FOR UPDATE", program_id)
        ender = threading.Thread(target=end_the_backend_waiting_on_a_lock, args=(database_url, ended), daemon=True)
        ender.start()
        response = await client.submit(f"/programs/{program_id}/apply", {"motivation": "行きたい"}, follow_redirects=False)
        ender.join(15)
        with contextlib.suppress(asyncpg.exceptions.PostgresError, asyncpg.exceptions.InterfaceError):
            await lock.rollback()
    finally:
        await holder.close()
    assert ended == [True], "the application never waited on the held row"

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert TRY_AGAIN in response.text
    assert await Application.count().where(Application.program == program_id) == 0
    assert (await Program.select(Program.seats_taken).where(Program.id == program_id).first())["seats_taken"] == 0

    # The pool has replaced the connection: the same application goes through.
    again = await client.submit(f"/programs/{program_id}/apply", {"motivation": "行きたい"}, follow_redirects=False)
    assert again.status_code == 303
    assert await Application.count().where(Application.program == program_id) == 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(settings, database_url: str, port: int) -> subprocess.Popen:
    # Every visit must reach the database: a kept public page (app/page_cache.py) would not.
    env = {**server_environment(settings, f"{database_url}?application_name={SERVER_APP}"), "PAGE_CACHE_SECONDS": "0"}
    return subprocess.Popen([sys.executable, "-m", "uvicorn", "app.asgi:app", "--host", "127.0.0.1", "--port", str(port),
                             "--no-access-log", "--log-level", "error"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


async def test_a_server_whose_connections_are_ended_under_load_answers_every_request(settings, database_url):
    area = await factories.area()
    program_ids = [await factories.program(area, title=f"酪農体験 第{i}回") for i in range(1, 4)]
    port = free_port()
    server = start_server(settings, database_url, port)
    base = f"http://127.0.0.1:{port}"
    statuses: list[int] = []
    tried_again: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            for _ in range(100):  # 20 s at most for the server to come up
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            else:
                pytest.fail(f"the server did not start: {server.stderr.read()[-2000:] if server.poll() is not None else ''}")

            stop_at = time.monotonic() + 4

            async def visitor(number: int) -> None:
                paths = ["/programs", *(f"/programs/{p}" for p in program_ids), f"/programs/{program_ids[0]}/calendar.ics"]
                for turn in range(10_000):  # bounded; ends at stop_at
                    if time.monotonic() >= stop_at:
                        return
                    response = await http.get(paths[(number + turn) % len(paths)])
                    statuses.append(response.status_code)
                    if response.status_code == 503:
                        tried_again.append(response.text)

            async def terminator() -> int:
                ended = 0
                killer = await admin(database_url)
                try:
                    for _ in range(3):
                        await asyncio.sleep(0.8)
                        ended += len([row for row in await killer.fetch(
                            "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity"
                            " WHERE datname = current_database() AND application_name = $1", SERVER_APP) if row["ok"]])
                finally:
                    await killer.close()
                return ended

            results = await asyncio.gather(*(visitor(n) for n in range(8)), terminator())
            ended = results[-1]
            health = (await http.get("/healthz")).json()
    finally:
        stop(server)
    errors = server.stderr.read()[-3000:]

    assert ended > 0
    assert len(statuses) > 50, "too few requests to test anything"
    assert not [s for s in statuses if s >= 500 and s != 503], errors
    assert all(TRY_AGAIN in page for page in tried_again)
    # Reads are sent again on a new connection, so a reader almost never sees the drop: only when the
    # second attempt is cut too (the next drop came while it ran) is the person asked to try again.
    assert statuses.count(503) <= len(statuses) // 100, f"{statuses.count(503)} of {len(statuses)} asked to try again"
    assert health["status"] == "ok" and health["database_connections_lost"] > 0
    assert "last_database_connection_lost_at" in health
