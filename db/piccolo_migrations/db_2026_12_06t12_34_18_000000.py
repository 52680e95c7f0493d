"""One budget per area and fiscal year."""

from db.unique_indexes import unique_indexes_migration

ID = "2026-12-06T12:34:18:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique budget per area and year"


async def forwards():
    return unique_indexes_migration(ID, DESCRIPTION, {
        "budget_area_year": "budget (area, fiscal_year)",
    })
