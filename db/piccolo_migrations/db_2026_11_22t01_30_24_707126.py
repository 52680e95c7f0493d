"""Unique (program, member) on application."""

from db.unique_indexes import unique_indexes_migration

ID = "2026-11-22T01:30:24:707126"
VERSION = "1.38.0"
DESCRIPTION = "unique (program, member) on application"
INDEXES = {"application_program_member": "application (program, member)"}


async def forwards():
    return unique_indexes_migration(ID, DESCRIPTION, INDEXES)
