"""The rate-limit counter's key: one row per (key, window), so a hit is one INSERT … ON CONFLICT DO UPDATE."""

from db.unique_indexes import unique_indexes_migration

ID = "2026-12-06T03:57:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "rate count unique index"

INDEXES = {
    "rate_count_key_window": "rate_count (key, window_ends)",
}


async def forwards():
    return unique_indexes_migration(ID, DESCRIPTION, INDEXES)
