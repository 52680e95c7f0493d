"""A page counts once per visitor and day: the batches of every process insert into one unique set."""

from db.unique_indexes import unique_indexes_migration

ID = "2026-12-06T14:48:26:000000"
VERSION = "1.38.0"
DESCRIPTION = "one row per day and digest of a counted page view"


async def forwards():
    return unique_indexes_migration(ID, DESCRIPTION, {
        "page_view_seen_day_digest": "page_view_seen (day, digest)",
    })
