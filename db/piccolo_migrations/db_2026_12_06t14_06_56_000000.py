"""One digest per member and week."""

from db.unique_indexes import unique_indexes_migration

ID = "2026-12-06T14:06:56:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique digest per member and week"


async def forwards():
    return unique_indexes_migration(ID, DESCRIPTION, {
        "digest_member_week": "digest (member, week)",
    })
