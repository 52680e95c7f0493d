"""One application per member and program, in raw SQL both databases accept."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-22T01:30:24:707126"
VERSION = "1.38.0"
DESCRIPTION = "unique (program, member) on application"


class Raw(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="db", description=DESCRIPTION)

    async def run():
        await Raw.raw("CREATE UNIQUE INDEX IF NOT EXISTS application_program_member ON application (program, member)")

    async def run_backwards():
        await Raw.raw("DROP INDEX IF EXISTS application_program_member")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
