"""The database pool is opened and closed with the app (PostgreSQL; SQLite has none)."""

from piccolo.engine.postgres import PostgresEngine

from app import main
from app.main import create_app
from db import engine as db_engine


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
