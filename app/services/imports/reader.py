"""Reading a CSV file someone saved from Excel, a CRM or a meeting service: the one reader both imports use.

Japanese offices send three kinds of "CSV": UTF-8 with a byte order mark (Excel's "CSV UTF-8", Zoom's
reports), UTF-8 without one (web systems, Salesforce), and Shift_JIS (Excel's plain "CSV", in Microsoft's
variant cp932, which adds the NEC and IBM characters such as ① and 髙). The file says nothing about which it
is, so the bytes decide: a BOM is UTF-8; bytes that are valid UTF-8 are UTF-8 (Shift_JIS text almost never
is); otherwise the encoding that reads with fewer broken characters wins. A row with a broken character (a
byte damaged in transit, a user-defined 外字 only the sender's PC can show) is kept but marked unreadable, so
one bad row costs that row and not the file; a file that is mostly broken is refused.

The standard library's csv module parses (quoted cells with commas and line breaks, Excel's doubled quotes).
Rows may be ragged: a short row is padded with empty cells (Excel drops trailing empty cells), a long row is
accepted if its extra cells are empty and marked otherwise. Limits on bytes, rows, columns and cell length
keep a careless or hostile file from tying up the server.
"""

from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from app.i18n import gettext as _
from app.services.shared.refusals import Refusal

MAX_BYTES = 3 * 1024 * 1024
MAX_ROWS = 5000
MAX_COLUMNS = 100
MAX_CELL = 1000  # characters: no name, address or id is longer; a longer cell is a file of another kind
# Of the data rows, at most this share may hold broken characters; more means the file is not text we can read.
MAX_BROKEN_SHARE = 0.25
BROKEN = "\ufffd"


class FileRefused(Refusal):
    """empty | too_big | not_text | undecodable | not_csv | no_header | no_rows | too_many_rows | too_many_columns"""

    def messages(self):
        return {
            "empty": _("Choose a CSV file."),
            "too_big": _("The file is larger than %(mb)d MB. Split it into smaller files.", mb=MAX_BYTES // (1024 * 1024)),
            "not_text": _("This is not a CSV file. In Excel, save it as “CSV UTF-8” or “CSV (comma delimited)” and choose "
                          "it again."),
            "undecodable": _("The characters of this file could not be read. Save it as “CSV UTF-8” in Excel and choose it "
                             "again."),
            "not_csv": _("This file could not be read as CSV. Save it as “CSV UTF-8” in Excel and choose it again."),
            "no_header": _("The file has no header row. Put the column names in the first row."),
            "no_rows": _("The file has a header row but no rows under it."),
            "too_many_rows": _("The file has more than %(rows)d rows. Split it into smaller files.",
                               rows=self.details.get("limit", MAX_ROWS)),
            "too_many_columns": _("The file has more than %(columns)d columns. Keep only the columns you need.",
                                  columns=MAX_COLUMNS),
        }


@dataclass(frozen=True)
class Row:
    number: int  # the row number in the spreadsheet (the header is row 1 unless a preamble comes before it)
    cells: tuple[str, ...]
    problem: str = ""  # "" | "unreadable" (broken characters) | "ragged" (cells beyond the header's columns)


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[Row, ...]
    encoding: str  # utf-8-sig | utf-8 | cp932
    problems: dict[str, int] = field(default_factory=dict)

    def sample(self, count: int = 3) -> list[Row]:
        return [row for row in self.rows if not row.problem][:count]


def row_problem_message(problem: str) -> str:
    return {
        "unreadable": _("This row has characters that could not be read. Correct it in the file and import it again."),
        "ragged": _("This row has more cells than the header has columns."),
    }.get(problem, "")


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding). Broken characters come out as U+FFFD; raises FileRefused for what is not text."""
    if not data:
        raise FileRefused("empty")
    if len(data) > MAX_BYTES:
        raise FileRefused("too_big")
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", "replace"), "utf-8-sig"
    if b"\x00" in data[:65536]:
        # Binary, or UTF-16 (Excel's "Unicode text"): text in either of our encodings has no NUL.
        raise FileRefused("not_text")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    as_utf8 = data.decode("utf-8", "replace")
    as_sjis = _cp932(data)
    # Shift_JIS bytes read as UTF-8 break at nearly every Japanese character; a UTF-8 file with one damaged byte
    # breaks once. The one with fewer broken characters is what the file was written in.
    if _broken_count(as_utf8) <= _broken_count(as_sjis):
        return as_utf8, "utf-8"
    return as_sjis, "cp932"


def _cp932(data: bytes) -> str:
    # cp932 reads bytes no character uses (0xFD–0xFF) and the user-defined area (外字) as private-use
    # characters: they mean nothing here, so they count as broken too.
    text = data.decode("cp932", "replace")
    return "".join(BROKEN if unicodedata.category(ch) == "Co" else ch for ch in text)


def _broken_count(text: str) -> int:
    return text.count(BROKEN)


def read_table(data: bytes, *, max_rows: int = MAX_ROWS,
               is_header: Callable[[tuple[str, ...]], bool] | None = None) -> Table:
    """Decode and parse. The header is the first row that is not empty, or the first for which `is_header`
    says yes (Zoom puts the meeting's details above the participants' header); rows above it are skipped.
    Raises FileRefused."""
    text, encoding = decode(data)
    delimiter = _delimiter(text)
    headers: tuple[str, ...] | None = None
    rows: list[Row] = []
    broken_rows = 0
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
        for line, record in enumerate(reader, start=1):  # the row number Excel shows (a cell may span lines)
            if len(record) > MAX_COLUMNS and any(cell.strip() for cell in record[MAX_COLUMNS:]):
                raise FileRefused("too_many_columns")
            cells = tuple(_cell(cell) for cell in record[:MAX_COLUMNS])
            if not any(cells):
                continue
            if headers is None:
                if is_header is None or is_header(cells):
                    headers = _trimmed(cells)
                    if BROKEN in "".join(headers) or any(len(h) > 200 for h in headers):
                        raise FileRefused("undecodable" if BROKEN in "".join(headers) else "not_csv")
                continue
            if len(rows) >= max_rows:
                raise FileRefused("too_many_rows", limit=max_rows)
            rows.append(_row(line, cells, len(headers)))
            broken_rows += rows[-1].problem == "unreadable"
    except csv.Error:
        raise FileRefused("not_csv") from None
    if headers is None:
        raise FileRefused("no_header")
    if not rows:
        raise FileRefused("no_rows")
    # Every row broken, or many: the file is in an encoding we do not read. A few: those rows are reported.
    if broken_rows == len(rows) or (broken_rows >= 3 and broken_rows > MAX_BROKEN_SHARE * len(rows)):
        raise FileRefused("undecodable")
    problems: dict[str, int] = {}
    for row in rows:
        if row.problem:
            problems[row.problem] = problems.get(row.problem, 0) + 1
    return Table(headers, tuple(rows), encoding, problems)


def _delimiter(text: str) -> str:
    """A comma, unless the first line has tabs and no commas (a "CSV" that is really tab-separated)."""
    first = text.split("\n", 1)[0]
    return "\t" if "\t" in first and "," not in first else ","


def _cell(value: str) -> str:
    # NFKC folds full-width digits and letters (ｔａｒｏ＠…) and half-width kana (ﾔﾏﾀﾞ) the way people mean them.
    value = unicodedata.normalize("NFKC", value.replace("\x00", "")).strip()
    if len(value) > MAX_CELL:
        raise FileRefused("undecodable" if BROKEN in value else "not_csv")
    return value


def _trimmed(headers: tuple[str, ...]) -> tuple[str, ...]:
    """The header without empty columns at its end (Excel keeps formatted but empty columns)."""
    end = len(headers)
    while end and not headers[end - 1]:
        end -= 1
    return headers[:end]


def _row(line: int, cells: tuple[str, ...], width: int) -> Row:
    problem = ""
    if any(cell for cell in cells[width:]):
        problem = "ragged"
    if any(BROKEN in cell for cell in cells):
        problem = "unreadable"
    cells = cells[:width] + ("",) * (width - len(cells))
    return Row(line, cells, problem)
