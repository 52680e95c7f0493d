"""One member per external id (the id a registrant import came with); members without one are not counted."""

from db.unique_indexes import unique_indexes_migration

ID = "2026-12-06T06:48:40:000000"
VERSION = "1.38.0"
DESCRIPTION = "member external id unique index"

INDEXES = {"member_external_id_unique": "member (external_id)"}


async def forwards():
    return unique_indexes_migration(ID, DESCRIPTION, INDEXES)
