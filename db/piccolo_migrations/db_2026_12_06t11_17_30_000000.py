"""A resent offline use is one conflict: unique per (scanning account, nonce), as redemptions are."""

from db.unique_indexes import unique_indexes_migration

ID = "2026-12-06T11:17:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique nonce of a redemption conflict"


async def forwards():
    return unique_indexes_migration(ID, DESCRIPTION, {
        "conflict_nonce": "conflict (scanned_by, client_nonce)",
    })
