"""The handover tests' targets: empty, migrated databases other than the test database — a second SQLite
file, and PostgreSQL when one is reachable — and a restore that is expected to be refused.

The PostgreSQL target is TEST_RESTORE_DATABASE_URL if given, else `<the TEST_DATABASE_URL database>_restore`
on the same server, created when missing and dropped after the tests; without TEST_DATABASE_URL the
PostgreSQL target is skipped.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from app.services.handover import restore, schema
from app.services.handover.restore import HandoverRefused
from app.services.shared import uploads
from app.settings import RestoreLimits
from db.engine import bind, make_engine
from db.tables import AuditLog
from tests.conftest import ROOT, migrate, reset_database


@contextmanager
def bound_to(url: str):
    """Point the tables at another database for a while (the services and the dashboard read the bound one)."""
    before = AuditLog._meta.db
    bind(make_engine(url))
    try:
        yield
    finally:
        bind(before)


async def row_count() -> int:
    return sum([await table.count() for table in schema.tables()])


def postgres_target_url() -> str | None:
    explicit = os.environ.get("TEST_RESTORE_DATABASE_URL")
    if explicit:
        return explicit
    source = os.environ.get("TEST_DATABASE_URL")
    if not source:
        return None
    parts = urlsplit(source)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "_restore"))


async def _on_the_server(url: str, statement: str) -> None:
    """CREATE or DROP DATABASE for `url`'s database, run from the test database's server."""
    name = urlsplit(url).path.lstrip("/")
    connection = await asyncpg.connect(os.environ["TEST_DATABASE_URL"])
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if (statement == "CREATE") != bool(exists):
            suffix = " WITH (FORCE)" if statement == "DROP" else ""
            await connection.execute('{} DATABASE "{}"{}'.format(statement, name.replace('"', '""'), suffix))
    finally:
        await connection.close()


@pytest.fixture(scope="package")
def sqlite_target(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('restore') / 'restored.sqlite3'}"
    migrate(url, tmp_path_factory.mktemp("restore-migrate"))
    return url


@pytest.fixture(scope="package")
def postgres_target(tmp_path_factory):
    """A database made for these tests is dropped after them; one given by TEST_RESTORE_DATABASE_URL is kept."""
    url = postgres_target_url()
    if url is None:
        pytest.skip("no PostgreSQL to restore into: give TEST_DATABASE_URL or TEST_RESTORE_DATABASE_URL")
    made_here = not os.environ.get("TEST_RESTORE_DATABASE_URL")
    if made_here:
        asyncio.run(_on_the_server(url, "CREATE"))
    try:
        migrate(url, tmp_path_factory.mktemp("restore-migrate-pg"))
        yield url
    finally:
        if made_here:
            asyncio.run(_on_the_server(url, "DROP"))


def emptied(url: str) -> str:
    with bound_to(url):
        asyncio.run(reset_database())
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def target(request) -> str:
    """A second database, migrated and empty: a SQLite file, and PostgreSQL when one is reachable."""
    return emptied(request.getfixturevalue(f"{request.param}_target"))


@pytest.fixture
def empty_sqlite(sqlite_target) -> str:
    return emptied(sqlite_target)


def command(*args: str, database_url: str, var_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "TSUNAGU_VAR_DIR": str(var_dir)}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


async def refused(archive: Path, url: str, var_dir: Path, limits: RestoreLimits | None = None) -> HandoverRefused:
    """Restore and expect a refusal: the target database and var/uploads stay as they were."""
    with bound_to(url):
        rows = await row_count()
        with pytest.raises(HandoverRefused) as caught:
            await restore.restore_archive(archive, var_dir, limits)
        assert await row_count() == rows
    assert not uploads.directory(var_dir).exists() and not any(var_dir.glob(".restore-*"))
    return caught.value

