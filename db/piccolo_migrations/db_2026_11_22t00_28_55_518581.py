"""Composite unique indexes. Raw SQL that SQLite and PostgreSQL both accept: Piccolo's auto migrations
would emit ALTER TABLE ... ADD CONSTRAINT, which SQLite does not have."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-22T00:28:55:518581"
VERSION = "1.38.0"
DESCRIPTION = "unique (member, area) on area_follow"


class Raw(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="db", description=DESCRIPTION)

    async def run():
        await Raw.raw("CREATE UNIQUE INDEX IF NOT EXISTS area_follow_member_area ON area_follow (member, area)")

    async def run_backwards():
        await Raw.raw("DROP INDEX IF EXISTS area_follow_member_area")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
