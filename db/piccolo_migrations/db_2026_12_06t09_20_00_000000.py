"""Rate counts skip the write-ahead log on PostgreSQL: `rate_count` becomes UNLOGGED (SQLite: nothing to do).

Every scan at a counter adds one to the same row (the shop account's window), and the row stays locked until
the commit is flushed to disk: on a busy or slow disk the counter's scans queued behind each other's flush.
A transaction that wrote only unlogged tables commits without waiting for a flush, so the lock is held for
microseconds. What is given up: after a crash of the database server the table is empty again, and a standby
does not have it: a rate limit that starts its minute over after a crash is harmless.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-06T09:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "rate counts unlogged"


class _Raw(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="db", description=DESCRIPTION)

    async def run():
        if _Raw._meta.db.engine_type == "postgres":
            await _Raw.raw("ALTER TABLE rate_count SET UNLOGGED")

    async def run_backwards():
        if _Raw._meta.db.engine_type == "postgres":
            await _Raw.raw("ALTER TABLE rate_count SET LOGGED")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
