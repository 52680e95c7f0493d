"""What is in the database, as the handover sees it: the app's tables in dependency order, their columns,
the migrations applied, and the app's version."""

from __future__ import annotations

from importlib import metadata

from piccolo.columns import Column
from piccolo.table import Table, sort_table_classes

from db.piccolo_app import APP_CONFIG
from db.tables import AuditLog


def tables() -> list[type[Table]]:
    """Every table of the app, each after the tables it points to."""
    return sort_table_classes(APP_CONFIG.table_classes)


def columns_of(table: type[Table]) -> list[Column]:
    return list(table._meta.columns)


def column_name(column: Column) -> str:
    return column._meta.db_column_name


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def applied_migrations() -> list[str]:
    """The migrations of the app applied to this database (Piccolo's own table), or raises if it has none."""
    rows = await AuditLog.raw("SELECT name FROM migration WHERE app_name = {}", APP_CONFIG.app_name)
    return sorted(row["name"] for row in rows)


def app_version() -> str:
    try:
        return metadata.version("tsunagu")
    except metadata.PackageNotFoundError:
        return "unknown"


def database_engine():
    """The engine the app's tables are bound to."""
    return AuditLog._meta.db
