"""One setting per journey rule and fiscal year."""

from db.unique_indexes import unique_indexes_migration

ID = "2026-12-06T07:05:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "journey rule unique index"

INDEXES = {
    "journey_rule_once_a_year": "journey_rule (fiscal_year, rule)",
}


async def forwards():
    return unique_indexes_migration(ID, DESCRIPTION, INDEXES)
