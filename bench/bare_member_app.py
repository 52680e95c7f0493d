"""The baseline for the member pages in bench/pages.py: a bare Litestar app that, like any page of a logged-in
member, looks the session up once and renders a page of the same size with Jinja2.

Each request reads the `tsunagu_auth` cookie, hashes it (SHA-256, as the app stores it) and runs one indexed
SELECT on the app's own `login_session` table (its unique index on `token_hash`) in the database the app
uses; no session is a 403. Then it renders static HTML padded to the byte size of the app's page of that
path. The driver is the one Piccolo uses for that database, held the way a bare app would hold it: one
aiosqlite connection opened at start-up for SQLite, an asyncpg pool (2–20 connections, as the app's) for
PostgreSQL.

    BENCH_BARE_DATABASE_URL=sqlite:////tmp/x/bench.sqlite3 BENCH_BARE_PAGES=/card=18000,/wallet=8800 \\
        uvicorn bench.bare_member_app:app --host 127.0.0.1 --port P --workers 1 ...
"""

from __future__ import annotations

import hashlib
import os
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

from jinja2 import DictLoader, Environment, select_autoescape
from litestar import Litestar, MediaType, Request, get
from litestar.exceptions import PermissionDeniedException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

from bench.bare_app import static_page

DATABASE_URL = os.environ.get("BENCH_BARE_DATABASE_URL", "")
# "/card=18009,/wallet=8805": the path of each page and the byte size of the app's page there.
PAGES = {path: int(size) for path, _, size in
         (item.partition("=") for item in os.environ.get("BENCH_BARE_PAGES", "/card=7000").split(",") if item)}
MARK = '<main id="main" class="main">'
SESSION_SQL = "SELECT account FROM login_session WHERE token_hash = {}"


def template_for(size: int) -> str:
    """The padded page, with the account id written into it (the one value the query gives the page)."""
    slot = '<main id="main" class="main" data-account="{{ account }}">'
    rendered = len(slot) - len("{{ account }}") + 2  # an account id of two digits
    return static_page(size - (rendered - len(MARK))).replace(MARK, slot, 1)


def template_name(path: str) -> str:
    return path.strip("/").replace("/", "_") + ".html"


environment = Environment(
    loader=DictLoader({template_name(path): template_for(size) for path, size in PAGES.items()}),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
)


class Database:
    """One indexed SELECT by token hash, on aiosqlite (one connection) or asyncpg (a pool)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = urlsplit(url).scheme == "sqlite"
        self.handle: Any = None

    async def open(self) -> None:
        if self.sqlite:
            import aiosqlite

            self.handle = await aiosqlite.connect(unquote(self.url.split("sqlite:///", 1)[1]))
        else:
            import asyncpg

            self.handle = await asyncpg.create_pool(self.url, min_size=2, max_size=20)

    async def close(self) -> None:
        if self.handle is not None:
            await self.handle.close()

    async def account_of(self, token: str) -> int | None:
        digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
        if self.sqlite:
            async with self.handle.execute(SESSION_SQL.format("?"), (digest,)) as cursor:
                row = await cursor.fetchone()
            return row[0] if row else None
        return await self.handle.fetchval(SESSION_SQL.format("$1"), digest)


database = Database(DATABASE_URL)


@asynccontextmanager
async def lifespan(app: Litestar):
    await database.open()
    try:
        yield
    finally:
        await database.close()


def member_page(path: str):
    @get(path, media_type=MediaType.HTML, name=template_name(path))
    async def handler(request: Request) -> Template:
        token = request.cookies.get("tsunagu_auth")
        account = await database.account_of(token) if token else None
        if account is None:
            raise PermissionDeniedException()
        return Template(template_name=template_name(path), context={"account": account}, media_type=MediaType.HTML)
    return handler


@get("/healthz", media_type=MediaType.TEXT)
async def healthz() -> str:  # only for the readiness check, never measured
    return "ok"


app = Litestar(
    route_handlers=[healthz, *(member_page(path) for path in PAGES)],
    lifespan=[lifespan],
    template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(environment)),
    openapi_config=None,
)
