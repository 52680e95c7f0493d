"""Page versions (db/page_versions.py): the table and its triggers on every table that exists now. A later migration
that adds a table runs `page_versions.install` again, which tests/test_page_versions.py asks for."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

from db import page_versions
from db.piccolo_app import APP_CONFIG

ID = "2026-12-06T19:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "page versions"


class _Raw(Table):
    pass


async def _statements(backwards: bool) -> list[str]:
    engine_type = _Raw._meta.db.engine_type
    existing = {row["name"] for row in await _Raw.raw(page_versions.EXISTING_TABLES[engine_type])}
    tables = existing & page_versions.classified()
    if backwards:
        return page_versions.drop(engine_type, tables)
    return page_versions.install(engine_type, tables, page_versions.references_of(APP_CONFIG.table_classes))


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="db", description=DESCRIPTION)

    async def run():
        async with _Raw._meta.db.transaction():
            for statement in await _statements(backwards=False):
                await _Raw.raw(statement)

    async def run_backwards():
        async with _Raw._meta.db.transaction():
            for statement in await _statements(backwards=True):
                await _Raw.raw(statement)

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
