"""The time, in one place, so rules that depend on it can be tested with a controlled clock."""

from datetime import datetime, timezone


def now() -> datetime:
    return datetime.now(timezone.utc)
