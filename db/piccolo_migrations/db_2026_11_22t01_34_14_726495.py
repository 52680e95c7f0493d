"""One delivery per notification and device, in raw SQL both databases accept."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-22T01:34:14:726495"
VERSION = "1.38.0"
DESCRIPTION = "unique (notification, subscription) on delivery"


class Raw(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="db", description=DESCRIPTION)

    async def run():
        await Raw.raw("CREATE UNIQUE INDEX IF NOT EXISTS delivery_notification_subscription ON delivery (notification, subscription)")

    async def run_backwards():
        await Raw.raw("DROP INDEX IF EXISTS delivery_notification_subscription")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
