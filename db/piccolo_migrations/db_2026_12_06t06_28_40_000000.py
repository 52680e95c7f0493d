"""A check-in once per member, activity and day in Japan, whatever records it (the phone, the card, staff)."""

from db.unique_indexes import unique_indexes_migration

ID = "2026-12-06T06:28:40:000000"
VERSION = "1.38.0"
DESCRIPTION = "check-in unique index"

INDEXES = {
    "check_in_once_a_day": "check_in (activity, member, day)",
}


async def forwards():
    return unique_indexes_migration(ID, DESCRIPTION, INDEXES)
