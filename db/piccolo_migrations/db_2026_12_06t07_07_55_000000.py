"""Each follow-up of a program made once by a journey rule (staff's own surveys, made_by_rule NULL, are
distinct in a unique index on both engines, so they are never held by it)."""

from db.unique_indexes import unique_indexes_migration

ID = "2026-12-06T07:07:55:000000"
VERSION = "1.38.0"
DESCRIPTION = "survey made by rule unique index"

INDEXES = {
    "survey_follow_up_once_by_rule": "survey (program, follow_up_days, made_by_rule)",
}


async def forwards():
    return unique_indexes_migration(ID, DESCRIPTION, INDEXES)
