"""One waiting premium application per member; a journey step once per rule, member and cause."""

from db.unique_indexes import unique_indexes_migration

ID = "2026-12-06T06:33:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "premium application and journey event unique indexes"

INDEXES = {
    "premium_application_one_waiting": "premium_application (member) WHERE status = 'submitted'",
    "journey_event_once": "journey_event (rule, member, cause)",
}


async def forwards():
    return unique_indexes_migration(ID, DESCRIPTION, INDEXES)
