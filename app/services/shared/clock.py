"""The time, in one place, so rules that depend on it can be tested with a controlled clock."""

from datetime import date, datetime, timezone

from app.i18n import TOKYO


def now() -> datetime:
    return datetime.now(timezone.utc)


def today_in_japan() -> date:
    """The day it is in Japan now: a day's check-in code, a day's page, begin at midnight in Tokyo."""
    return now().astimezone(TOKYO).date()


def local_datetime(value: str) -> datetime | None:
    """An <input type="datetime-local"> value, read as Japan time (where the people typing it are); None when it
    is empty or not a time."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed.replace(tzinfo=TOKYO) if parsed.tzinfo is None else parsed


def year_months(start: date) -> list[date]:
    """The first days of the twelve months of the fiscal year starting at `start` (April 1)."""
    return [date(start.year + (start.month + i - 1) // 12, (start.month + i - 1) % 12 + 1, 1) for i in range(12)]
