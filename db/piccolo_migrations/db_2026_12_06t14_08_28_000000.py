"""One travel-subsidy claim per program and member."""

from db.unique_indexes import unique_indexes_migration

ID = "2026-12-06T14:08:28:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique travel claim per program and member"


async def forwards():
    return unique_indexes_migration(ID, DESCRIPTION, {
        "travel_claim_program_member": "travel_claim (program, member)",
    })
