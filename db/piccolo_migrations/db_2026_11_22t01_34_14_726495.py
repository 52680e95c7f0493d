"""Unique (notification, subscription) on delivery."""

from db.unique_indexes import unique_indexes_migration

ID = "2026-11-22T01:34:14:726495"
VERSION = "1.38.0"
DESCRIPTION = "unique (notification, subscription) on delivery"
INDEXES = {"delivery_notification_subscription": "delivery (notification, subscription)"}


async def forwards():
    return unique_indexes_migration(ID, DESCRIPTION, INDEXES)
