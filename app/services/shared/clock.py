"""The time, in one place, so rules that depend on it can be tested with a controlled clock."""

from datetime import date, datetime, timezone

from app.i18n import TOKYO


def now() -> datetime:
    return datetime.now(timezone.utc)


def today_in_japan() -> date:
    """The day it is in Japan now: a day's check-in code, a day's page, begin at midnight in Tokyo."""
    return now().astimezone(TOKYO).date()
