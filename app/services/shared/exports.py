"""CSV for Excel: UTF-8 with a byte order mark, Japanese headers whatever the staff member's own
language (the files go into the municipality's spreadsheets and reports), cells that never start a
formula, and every export written to the audit log (APPI: staff exports are logged)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime

from app.i18n import in_locale
from db.tables import AuditLog

CSV_LOCALE = "ja"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """Text someone typed never starts a spreadsheet formula; numbers stay numbers."""
    return "'" + value if isinstance(value, str) and value[:1] in FORMULA_STARTS else value


def csv_text(headers: list, rows: Iterable[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return "\ufeff" + out.getvalue()


def csv_language():
    return in_locale(CSV_LOCALE, audience="staff")


async def record_export(actor_id: int | None, target_type: str, target_id: str, detail: dict, now: datetime,
                        file_type: str = "csv") -> None:
    await AuditLog.insert(
        AuditLog(actor=actor_id, action=f"export.{file_type}", target_type=target_type, target_id=target_id, detail=detail,
                 created_at=now)
    )
