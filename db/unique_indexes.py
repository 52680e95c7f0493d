"""Composite unique indexes for migrations, in raw SQL that SQLite and PostgreSQL both accept.

Piccolo's auto migrations would emit `ALTER TABLE … ADD CONSTRAINT`, which SQLite does not have, so
what must never happen twice across several columns is a unique index made by a raw migration.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table


class _Raw(Table):
    pass


def unique_indexes_migration(migration_id: str, description: str, indexes: dict[str, str]) -> MigrationManager:
    """A migration creating `indexes` ({name: "table (column, …)"}) and dropping them backwards."""
    manager = MigrationManager(migration_id=migration_id, app_name="db", description=description)

    async def run():
        for name, target in indexes.items():
            await _Raw.raw(f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {target}")

    async def run_backwards():
        for name in indexes:
            await _Raw.raw(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
