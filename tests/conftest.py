"""Fixtures shared by every test: a migrated database (SQLite, or PostgreSQL with TSUNAGU_TEST_DB=postgres),
settings on a temporary var/ directory, the app, and an HTTP client that speaks CSRF like a browser.

One switch runs the same tests on both databases: `TSUNAGU_TEST_DB=postgres` with `TEST_DATABASE_URL`.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from piccolo.table import sort_table_classes

from app.keyfile import generate_secrets
from app.main import create_app
from app.settings import Settings
from db.engine import bind, make_engine
from db.piccolo_app import APP_CONFIG

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


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    var_dir = tmp_path_factory.mktemp("migrate")
    if USE_POSTGRES:
        url = os.environ.get("TEST_DATABASE_URL")
        if not url:
            pytest.exit("TSUNAGU_TEST_DB=postgres needs TEST_DATABASE_URL", returncode=2)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    migrate(url, var_dir)
    bind(make_engine(url))
    return url


@pytest.fixture(scope="session")
def secrets() -> dict[str, str]:
    return generate_secrets()


async def reset_database() -> None:
    tables = sort_table_classes(APP_CONFIG.table_classes)
    engine = tables[0]._meta.db
    if engine.engine_type == "postgres":
        names = ", ".join(t._meta.tablename for t in tables)
        await tables[0].raw(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    else:
        for table in reversed(tables):
            await table.delete(force=True)


@pytest.fixture(autouse=True)
def clean_database(database_url):
    """Every test starts from empty tables (run before, so a failed test leaves its data to look at)."""
    asyncio.run(reset_database())
    yield


def make_settings(secrets: dict[str, str], var_dir: Path, database_url: str, base_url: str = BASE_URL) -> Settings:
    # Tests drive push rounds themselves (push.run_once), so no sender runs in the background.
    return Settings(**secrets, var_dir=var_dir, database_url=database_url, base_url=base_url, push_sender=False)


@pytest.fixture
def settings(secrets, tmp_path, database_url) -> Settings:
    return make_settings(secrets, tmp_path / "var", database_url)


async def _no_pool(engine) -> None:
    """Neither open nor close a pool."""


@pytest.fixture(autouse=True)
def one_connection_per_query(monkeypatch):
    """The test client runs the app on its own event loop (a blocking-portal thread) while tests also
    query the database on pytest's loop. An asyncpg pool belongs to the loop that opened it, so apps made
    in tests open a connection per query instead; tests/routes/test_lifespan.py covers the pool itself."""
    monkeypatch.setattr("app.main.open_pool", _no_pool)
    monkeypatch.setattr("app.main.close_pool", _no_pool)


@pytest.fixture
def app(settings):
    return create_app(settings)


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)"')


class Client(AsyncTestClient):
    """A test client that, like a browser, picks up the CSRF token from the last page it read."""

    csrf_token: str = ""

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
    from app.services import login_sessions

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
