"""A fan-out run twice queues nothing twice for LINE: unique per (notification, LINE link), as push deliveries are."""

from db.unique_indexes import unique_indexes_migration

ID = "2026-12-06T11:35:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique LINE delivery per notification and link"


async def forwards():
    return unique_indexes_migration(ID, DESCRIPTION, {
        "line_delivery_once": "line_delivery (notification, line_link)",
    })
