"""A program in people's calendars: the calendar file (RFC 5545) and Google Calendar's link on its page, and the
public list's month calendar."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from babel.dates import format_skeleton

from app.i18n import TOKYO, current_locale, to_tokyo
from app.i18n import gettext as _
from app.services.programs import reads


def month_calendar(month: str, programs: list[dict], now: datetime) -> dict:
    """A month as weeks from Sunday (as Japanese calendars are printed), each day with the programs starting on it,
    and the neighbouring months for the arrows."""
    first, after = reads.month_bounds(month)
    starting: dict = {}
    for program in programs:
        starting.setdefault(to_tokyo(program["starts_at"]).date(), []).append(program)
    weeks = [
        [{"date": day, "in_month": day.month == first.month, "today": day == to_tokyo(now).date(),
          "programs": starting.get(day, [])} for day in week]
        for week in calendar.Calendar(firstweekday=6).monthdatescalendar(first.year, first.month)
    ]
    before = first - timedelta(days=1)
    return {
        "title": format_skeleton("yMMM", first, locale=current_locale.get()),
        "weekdays": [format_skeleton("EEEEE", datetime(2026, 11, 1 + n, tzinfo=TOKYO), locale=current_locale.get())
                     for n in range(7)],  # 1 November 2026 is a Sunday
        "weeks": weeks,
        "previous": f"{before:%Y-%m}",
        "next": f"{after:%Y-%m}",
    }


# The calendar file (RFC 5545), written by hand: a few lines, CRLF endings, folded at 75 octets.


def ics_escape(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def ics_fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space, never inside a UTF-8 character."""
    parts, current, size = [], "", 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > 75:
            parts.append(current)
            current, size = " ", 1
        current += char
        size += width
    parts.append(current)
    return "\r\n".join(parts)


def ics_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def program_location(program: dict) -> str:
    return program["place"] or (_("Online") if program["kind"] == "event" else "")


def google_calendar_url(program: dict, url: str) -> str:
    """Google Calendar's "add event" link (its documented TEMPLATE action), for those who live in it rather than
    in a calendar app that opens .ics files."""
    details = "\n\n".join(part for part in (program["summary"], url) if part)
    query = {"action": "TEMPLATE", "text": program["title"], "dates": f"{ics_time(program['starts_at'])}/{ics_time(program['ends_at'])}",
             "details": details, "location": program_location(program), "ctz": "Asia/Tokyo"}
    return "https://calendar.google.com/calendar/render?" + urlencode({k: v for k, v in query.items() if v})


def program_ics(program: dict, url: str, host: str, now: datetime) -> str:
    location = program_location(program)
    description = "\n\n".join(part for part in (program["summary"], url) if part)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Tsunagu//Programs//JA",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:program-{program['id']}@{host}",
        f"DTSTAMP:{ics_time(now)}",
        f"DTSTART:{ics_time(program['starts_at'])}",
        f"DTEND:{ics_time(program['ends_at'])}",
        f"LAST-MODIFIED:{ics_time(program['updated_at'])}",
        f"SUMMARY:{ics_escape(program['title'])}",
        f"DESCRIPTION:{ics_escape(description)}",
        *([f"LOCATION:{ics_escape(location)}"] if location else []),
        f"URL:{url}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(ics_fold(line) + "\r\n" for line in lines)
