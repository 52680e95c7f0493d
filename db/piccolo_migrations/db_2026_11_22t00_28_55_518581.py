"""Unique (member, area) on area_follow."""

from db.unique_indexes import unique_indexes_migration

ID = "2026-11-22T00:28:55:518581"
VERSION = "1.38.0"
DESCRIPTION = "unique (member, area) on area_follow"
INDEXES = {"area_follow_member_area": "area_follow (member, area)"}


async def forwards():
    return unique_indexes_migration(ID, DESCRIPTION, INDEXES)
