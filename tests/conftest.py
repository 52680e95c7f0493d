"""Fixtures shared by every test: a migrated database (SQLite, or PostgreSQL with TSUNAGU_TEST_DB=postgres),
settings on a temporary var/ directory, the app, and an HTTP client that speaks CSRF like a browser.

One switch runs the same tests on both databases: `TSUNAGU_TEST_DB=postgres` with `TEST_DATABASE_URL`.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
import sys
from concurrent.futures import CancelledError
from contextlib import ExitStack, closing, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from litestar import Litestar
from litestar.testing import AsyncTestClient
from piccolo.engine.base import Engine
from piccolo.table import sort_table_classes

from app.keyfile import generate_secrets
from app.main import create_app, make_state, make_stores
from app.services.shared.actor import Actor
from app.settings import Settings
from db.engine import bind, make_engine
from db.piccolo_app import APP_CONFIG
from tests import factories
from tests.loop_pools import LoopPools, ResetLine

ROOT = Path(__file__).resolve().parent.parent
USE_POSTGRES = os.environ.get("TSUNAGU_TEST_DB", "sqlite") == "postgres"
BASE_URL = "http://localhost:8000"


def migrate(database_url: str, var_dir: Path) -> None:
    """Apply the real migrations with Piccolo's own CLI, as `make run` does."""
    env = {**os.environ, "DATABASE_URL": database_url, "TSUNAGU_VAR_DIR": str(var_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "piccolo.main", "migrations", "forwards", "all"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    if result.returncode != 0 or "failed" in result.stdout or "Error" in result.stdout:
        raise RuntimeError(f"migrations failed:\n{result.stdout}\n{result.stderr}")


# Under pytest-xdist every worker process (gw0, gw1, …) has a database of its own. A SQLite file is in the
# worker's own temporary directory anyway; on PostgreSQL the worker's database is the given one's name plus
# "_gw0" (…), made on the same server when the worker starts and dropped when it ends. The worker's
# TEST_DATABASE_URL names it, so what tests derive from that (the handover tests' `_restore`) is its own too.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
GIVEN_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")


def worker_database_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"{parts.path}_{WORKER}"))


def pytest_configure(config):
    if USE_POSTGRES and WORKER and GIVEN_DATABASE_URL:
        os.environ["TEST_DATABASE_URL"] = worker_database_url(GIVEN_DATABASE_URL)


# The longest tests (pytest --durations) are handed out first: given last, one of them kept one test process busy
# for half a minute while the other had nothing left to do. Each package's tests stay together (the browser
# tests share one Playwright, started and stopped around them), so the order moves them only within theirs.
LONGEST_FIRST = (
    "tests/browser/test_accessibility.py", "tests/browser/test_surveys.py", "tests/browser/test_programs.py",
    "tests/browser/test_ladder.py", "tests/browser/test_counter.py", "tests/browser/test_wallet.py",
    "tests/routes/test_fuzz.py", "tests/routes/test_access.py",
)


def pytest_collection_modifyitems(items):
    packages = list(dict.fromkeys(item.nodeid.split("/")[1] for item in items))

    def rank(item) -> tuple[int, int]:
        slow = next((i for i, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)), len(LONGEST_FIRST))
        return packages.index(item.nodeid.split("/")[1]), slow
    items.sort(key=rank)  # stable: the rest keep their order


async def _make_database(server_url: str, url: str, drop_only: bool = False) -> None:
    """(Re)creates `url`'s database, or only drops it, through a connection to `server_url`'s."""
    name = urlsplit(url).path.lstrip("/").replace('"', '""')
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("migrate")
    own_database = USE_POSTGRES and WORKER
    if USE_POSTGRES:
        url = os.environ.get("TEST_DATABASE_URL")
        if not url:
            pytest.exit("TSUNAGU_TEST_DB=postgres needs TEST_DATABASE_URL", returncode=2)
        if own_database:
            asyncio.run(_make_database(GIVEN_DATABASE_URL, url))
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    migrate(url, var_dir)
    bind(pooled_engine(url))
    if USE_POSTGRES:
        RESET_LINES[url] = ResetLine(url)
    yield url
    if USE_POSTGRES:
        RESET_LINES.pop(url).close()
    if own_database:
        asyncio.run(_make_database(GIVEN_DATABASE_URL, url, drop_only=True))


LOOP_POOLS: dict[str, LoopPools] = {}
RESET_LINES: dict[str, ResetLine] = {}  # the test database's; another (a restore's) is emptied through a pool


ENGINES: dict[str, Engine] = {}


def pooled_engine(database_url: str):
    """The app's engine, with a pool per event loop on PostgreSQL (tests/loop_pools.py); one per database for the
    run, as in a server process: Piccolo connects to ask the server's version whenever one is made."""
    engine = ENGINES.get(database_url)
    if engine is None:
        engine = ENGINES[database_url] = make_engine(database_url)
        if engine.engine_type == "postgres":
            engine.pool = LOOP_POOLS.setdefault(database_url, LoopPools(database_url))
    return engine


async def close_running_loops_pools() -> None:
    for pools in LOOP_POOLS.values():
        await pools.close_running_loops_pool()


@pytest.fixture(scope="session")
def secrets() -> dict[str, str]:
    return generate_secrets()


async def reset_database() -> None:
    """Empty every table in one round trip: DELETE, not TRUNCATE, because a test's tables hold a few rows
    and PostgreSQL's TRUNCATE makes new files for every table (≈ 250 ms a test); on SQLite one connection
    instead of one per table (Piccolo opens a connection for every query). Ids start at 1 again, as after
    TRUNCATE … RESTART IDENTITY (SQLite's rowids do by themselves once a table is empty)."""
    tables = sort_table_classes(APP_CONFIG.table_classes)
    names = [t._meta.tablename for t in tables]
    deletes = "".join(f'DELETE FROM "{name}";' for name in reversed(names))
    engine = tables[0]._meta.db
    if engine.engine_type == "postgres":
        script = deletes + (
            "SELECT setval(seq, 1, false) FROM (SELECT to_regclass(name || '_id_seq') AS seq FROM unnest(ARRAY["
            + ", ".join(f"'{name}'" for name in names) + "]) AS name) AS sequences WHERE seq IS NOT NULL;"
        )
        line = RESET_LINES.get(engine.config["dsn"])
        if line is not None:
            await line.execute(script)
            return
        await _execute_script(engine, script)
        await close_running_loops_pools()
    else:
        with closing(sqlite3.connect(engine.path)) as connection:
            # One transaction: each DELETE committed alone wrote the journal 54 times (10 ms a test, not 2).
            connection.executescript("PRAGMA synchronous = OFF; BEGIN;" + deletes + "COMMIT;")


async def _execute_script(engine, script: str) -> None:
    """Several statements at once: asyncpg's simple-query protocol, which Piccolo's queries don't use."""
    if engine.pool:
        async with engine.pool.acquire() as connection:
            await connection.execute(script)
        return
    connection = await engine.get_new_connection()
    try:
        await connection.execute(script)
    finally:
        await connection.close()


@pytest.fixture(autouse=True)
def clean_database(database_url):
    """Every test starts from empty tables (run before, so a failed test leaves its data to look at), with the
    tables bound to the pooled engine: a test that made an app of its own may have bound another one, whose
    queries would each open a connection (150 at once are more than PostgreSQL allows)."""
    bind(pooled_engine(database_url))
    asyncio.run(reset_database())
    yield


def make_settings(secrets: dict[str, str], var_dir: Path, database_url: str, base_url: str = BASE_URL) -> Settings:
    # Tests drive push rounds themselves (push.run_once), so no sender runs in the background.
    return Settings(**secrets, var_dir=var_dir, database_url=database_url, base_url=base_url, push_sender=False)


@pytest.fixture
def settings(secrets, tmp_path, database_url) -> Settings:
    return make_settings(secrets, tmp_path / "var", database_url)


def server_environment(settings: Settings, database_url: str) -> dict[str, str]:
    """The environment of a server process of its own (`uvicorn app.asgi:app`) on this test's database and keys."""
    return {**os.environ, "DATABASE_URL": database_url, "TSUNAGU_VAR_DIR": str(settings.var_dir),
            "SECRET_KEY": settings.secret_key, "SIGNING_KEY": settings.signing_key,
            "VAPID_PRIVATE_KEY": settings.vapid_private_key, "VAPID_PUBLIC_KEY": settings.vapid_public_key,
            "PUSH_SENDER": "off", "REDIS_URL": "", "PYTHONPATH": str(ROOT), "LOG_LEVEL": "ERROR"}


async def _no_pool(engine) -> None:
    """Pools are made per event loop when first needed (tests/loop_pools.py)."""


async def _close_loop_pool(engine) -> None:
    if not APP_LOOP.runs_here():  # the app loop's pool outlives each app: it is closed with the loop
        await close_running_loops_pools()


@pytest.fixture(autouse=True)
def pool_per_event_loop(monkeypatch):
    """Apps made in tests get the per-loop pools too, and close their loop's pool when their lifespan
    ends; tests/routes/test_lifespan.py covers the app's own pool."""
    monkeypatch.setattr("app.main.make_engine", pooled_engine)
    monkeypatch.setattr("app.main.open_pool", _no_pool)
    monkeypatch.setattr("app.main.close_pool", _close_loop_pool)


if USE_POSTGRES:  # only there: an async fixture around the sync browser tests (SQLite only) would clash with Playwright's loop

    @pytest.fixture(autouse=True, scope="session")
    async def close_pytest_loops_pool():
        """The tests' own queries run on pytest's one loop; its pool goes before the loop does."""
        yield
        await close_running_loops_pools()

    @pytest.fixture(autouse=True)
    def forget_closed_loops():
        yield
        for pools in LOOP_POOLS.values():
            pools.forget_closed_loops()


def route_table(app: Litestar) -> list[tuple[str, frozenset[str]]]:
    return [(route.path, frozenset(route.methods)) for route in app.routes]


class SharedApp:
    """The app most tests use, made once: making one (203 handlers and their middleware) costs more than
    most tests do. Each test gets it reset to the test's own settings (`reset_app`); a test that added a
    route to it (a handler that fails on purpose) leaves it to be made again for the next one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings  # what it is made with; a test's settings differ in var_dir
        self._app: Litestar | None = None
        self._routes: list = []
        self._engine = None  # the engine it was made with: a test may swap app.state.engine for a broken one

    def for_test(self, settings: Settings) -> Litestar:
        if self._app is None or route_table(self._app) != self._routes:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr("app.main.make_engine", pooled_engine)  # as pool_per_event_loop does for a test's own app
                self._app = create_app(self.settings)
            self._routes = route_table(self._app)
            self._engine = self._app.state.engine
        reset_app(self._app, settings, self._engine)
        return self._app


@pytest.fixture(scope="session")
def shared_app(secrets, database_url, tmp_path_factory) -> SharedApp:
    return SharedApp(make_settings(secrets, tmp_path_factory.mktemp("shared-var"), database_url))


def reset_app(app: Litestar, settings: Settings, engine) -> None:
    """Gives the shared app what create_app(settings) would have given a test: these settings, fresh state
    (make_state), new stores under settings.var_dir, and the tables bound to its engine."""
    app.state.clear()
    app.state.update(make_state(settings, engine))
    old_stores = list(app.stores._stores.values())
    app.stores._stores = make_stores(settings)
    app._lifespan_managers[:] = [
        manager for manager in app._lifespan_managers if all(manager is not store for store in old_stores)
    ] + list(app.stores._stores.values())
    app.template_engine.engine.globals.update(branding=settings.branding, site_settings=settings)
    bind(engine)


# The settings create_app builds into the app itself: the cookies, CSRF, body limit, locale and logging of its
# middleware (secure_cookies follows base_url). Every other one reaches it through app.state and the templates'
# globals, which reset_app gives each test.
BUILT_IN_SETTINGS = ("database_url", "base_url", "secret_key", "max_body_bytes", "default_locale", "log_level", "debug")


@pytest.fixture
def app(shared_app, settings) -> Litestar:
    """The shared app, reset for this test; a test whose settings change one built into the app (making one
    costs 0.35 s of CPU) gets an app of its own."""
    if any(getattr(settings, name) != getattr(shared_app.settings, name) for name in BUILT_IN_SETTINGS):
        return create_app(settings)
    return shared_app.for_test(settings)


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)"')


class AppLoop:
    """The one event loop, in a thread of its own, on which the test clients run the app, test after test.

    Litestar's test client starts a thread and a loop for each client, and a pool belongs to its loop: on
    PostgreSQL each test then opened new connections, each a new server process loading the catalogue again. On
    this loop the pool, its connections and their prepared statements serve every test, as they serve the app's
    requests (with one engine per database, pooled_engine: the PostgreSQL run used 231 CPU-seconds of the machine
    instead of 280).

    A client opened while another is open (a test with two people) gets a loop of its own, as before, and this
    loop is retired when its client closes: an app has one event emitter, and two lifespans at once leave it
    half-closed, which cancels whatever task the first lifespan ran in."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._portal: BlockingPortal | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients = 0  # open, on this loop or on their own
        self._retire = False

    def enter(self) -> BlockingPortal | None:
        """For a client being opened: this loop's portal if no other client is open, else None."""
        self._clients += 1
        if self._clients > 1:
            self._retire = self._portal is not None
            return None
        if self._portal is None:
            self._portal = self._stack.enter_context(start_blocking_portal("asyncio"))
            self._loop = self._portal.call(asyncio.get_running_loop)
        return self._portal

    def leave(self, on_this_loop: bool) -> None:
        self._clients -= 1
        if on_this_loop and self._retire:
            self.close()

    def runs_here(self) -> bool:
        return self._loop is not None and self._loop is asyncio.get_running_loop()

    def close(self) -> None:
        # A retired loop's portal may have been cancelled already, or be cancelled while this runs: its pool's
        # connections then just drop.
        portal, self._portal, self._loop, self._retire = self._portal, None, None, False
        stack, self._stack = self._stack, ExitStack()
        with suppress(RuntimeError, CancelledError):
            if portal is not None:
                portal.call(close_running_loops_pools)
        with suppress(RuntimeError, CancelledError):
            stack.close()


APP_LOOP = AppLoop()


@pytest.fixture(autouse=True, scope="session")
def close_app_loop():
    yield
    APP_LOOP.close()


class Client(AsyncTestClient):
    """A test client that, like a browser, picks up the CSRF token from the last page it read, and runs the app
    on the run's one app loop (AppLoop)."""

    csrf_token: str = ""
    _on_app_loop = False

    async def __aenter__(self) -> Client:
        portal = APP_LOOP.enter()
        if portal is not None:
            self.blocking_portal, self._on_app_loop = portal, True  # Litestar's client runs on a portal it is given
        try:
            return await super().__aenter__()
        except BaseException:
            APP_LOOP.leave(self._on_app_loop)
            raise

    async def __aexit__(self, *exc_info) -> None:
        try:
            await super().__aexit__(*exc_info)
        finally:
            APP_LOOP.leave(self._on_app_loop)

    async def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        response = await super().request(method, url, *args, **kwargs)
        match = CSRF_META.search(response.text) if "text/html" in response.headers.get("content-type", "") else None
        if match and match.group(1):
            self.csrf_token = match.group(1)
        return response

    async def ensure_csrf(self) -> str:
        if not self.csrf_token:
            await self.get("/")
        return self.csrf_token

    async def submit(self, url: str, data: dict | None = None, **kwargs):
        """POST a form the way a page does: urlencoded, with the CSRF field."""
        token = await self.ensure_csrf()
        return await self.post(url, data={**(data or {}), "_csrf_token": token}, **kwargs)

    async def hx_post(self, url: str, data: dict | None = None, **kwargs):
        """POST as HTMX does: CSRF in the header, HX-Request set."""
        token = await self.ensure_csrf()
        headers = {"HX-Request": "true", "x-csrftoken": token, **kwargs.pop("headers", {})}
        return await self.post(url, data=data or {}, headers=headers, **kwargs)


@pytest.fixture
async def client(app):
    async with Client(app=app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        yield client


async def log_in(client: Client, account_id: int) -> str:
    """Log a test client in as an account without a passkey ceremony (those are tested on their own)."""
    from app.auth import AUTH_COOKIE
    from app.services.membership import login_sessions

    token = await login_sessions.start(account_id, "pytest")
    client.cookies.set(AUTH_COOKIE, token)
    return token


def redis_reachable(host: str = "127.0.0.1", port: int = 6379) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


requires_redis = pytest.mark.skipif(not redis_reachable(), reason="no Redis on 127.0.0.1:6379")


# The people most service and route tests act as: two areas, the secretariat, and an editor of each area.


@dataclass
class Scene:
    """Two areas; the secretariat; an editor of the first area and an editor of the second."""

    area: int
    other_area: int
    staff: Actor
    editor: Actor
    other_editor: Actor


@pytest.fixture
async def scene() -> Scene:
    area = await factories.area("勇払", "yufutsu")
    other_area = await factories.area("樽前", "tarumae")
    staff = await factories.staff_account("事務局 佐藤")
    editor = await factories.staff_account("勇払 編集 鈴木", role="editor", area=area)
    other_editor = await factories.staff_account("樽前 編集 高橋", role="editor", area=other_area)
    return Scene(area, other_area, Actor(staff, "staff"), Actor(editor, "editor", area),
                 Actor(other_editor, "editor", other_area))


@pytest.fixture
def platform():
    """A fake LINE platform on loopback (tests/line_platform.py); stopped after the test, which must have made only
    well-formed calls to it, whatever it was told to answer."""
    from tests.line_platform import FakeLinePlatform

    with FakeLinePlatform() as running:
        yield running
    assert running.errors == [], [call.error for call in running.errors]
