"""The handover archive's format (引き継ぎ): every table as a CSV file and every uploaded file in one ZIP, which
a new, empty installation can restore — so the municipality can keep running Tsunagu on its own after the
contract, on SQLite or PostgreSQL, whichever the archive came from. Written by `export`, read by `restore`.

The archive:

    manifest.json          format, app version, applied migrations, per table its file, columns and row
                           count, the creation time, and the SHA-256 of every other entry
    README.txt             the format below, for whoever opens the archive years from now
    tables/<table>.csv     one per table, in dependency order (a table after the tables it points to)
    uploads/<name>         the files under var/uploads/, byte for byte
    published/portal-static.zip   the portal as HTML files, as last built (when it was)

Each CSV is UTF-8 with a byte order mark (so Excel reads the Japanese), comma separated, CRLF line ends,
quoted where needed (RFC 4180). The first line holds the column names; rows are in id order. Values are
written so that reading them back gives exactly what was stored:

    NULL          \\N
    text          as is; a text that starts with a backslash gets one more in front (so \\N stays text)
    integers      decimal digits
    booleans      true | false
    timestamps    ISO 8601 with the offset, to the microsecond, in Japan time (2026-04-01T09:30:00.123456+09:00)
    dates         YYYY-MM-DD
    JSON          the JSON text
    binary        base64 (standard alphabet, with padding)

The files are an exact copy, not a report: no cell is protected against spreadsheet formulas.
Import them (Excel: Data → From Text/CSV) rather than opening them with a double click.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from piccolo.columns import (
    JSON,
    Boolean,
    Bytea,
    Column,
    Date,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)

from app.i18n import TOKYO
from app.services.portal.static_export import ARCHIVE

FORMAT = "tsunagu-handover"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
README = "README.txt"
TABLES_DIR = "tables/"
UPLOADS_DIR = "uploads/"
PUBLISHED = ARCHIVE.as_posix()  # where the portal as HTML files is kept under var/, and in the archive
NULL = "\\N"
CHUNK = 1024 * 1024
# A name inside uploads/ that can only land inside var/uploads: no "..", no hidden files, no separators.
SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")

README_TEXT = """\
Tsunagu handover archive / Tsunagu 引き継ぎデータ

manifest.json        what is inside: tables, row counts, applied migrations, SHA-256 of each file
tables/<table>.csv   one file per table, UTF-8 (with BOM), header = column names, rows in id order
uploads/<name>       uploaded images, byte for byte
published/portal-static.zip   the portal as HTML files for the city's web server, as last built

Values / 値の書き方:
  NULL = \\N ; a text starting with a backslash has one more in front / バックスラッシュで始まる文字列は先頭に1つ追加
  booleans true|false ; timestamps ISO 8601 with offset ; dates YYYY-MM-DD ; JSON as JSON text ; binary as base64

Restore into a new installation / 新しい環境への復元:
  piccolo migrations forwards all
  python -m app restore <this file>.zip
See README.md of Tsunagu, "Handover: export and restore". / 手順は README.md の「Handover」を参照。
"""


# Values as text, and back ---------------------------------------------------------------------------------


def _text_out(value: str) -> str:
    return "\\" + value if value.startswith("\\") else value


def _text_in(text: str) -> str:
    return text[1:] if text.startswith("\\") else text


def _bool_in(text: str) -> bool:
    if text not in ("true", "false"):
        raise ValueError(text)
    return text == "true"


def timestamp_out(value: datetime) -> str:
    return value.astimezone(TOKYO).isoformat()


def _timestamp_in(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:  # an offset is part of the format: a bare time would be read in the wrong zone
        raise ValueError(text)
    return moment


def _json_out(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _json_in(text: str) -> str:
    json.loads(text)  # only checked: the text is stored as it came, so nothing about it changes
    return text


def _bytes_in(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


# (write, read) per column type, looked up along the class hierarchy; a column type missing here stops
# the export with an error rather than writing something that cannot be read back.
CODECS: dict[type[Column], tuple[Callable[[Any], str], Callable[[str], Any]]] = {
    Serial: (str, int),
    Integer: (str, int),  # BigInt and SmallInt too
    ForeignKey: (str, int),
    Varchar: (_text_out, _text_in),
    Text: (_text_out, _text_in),
    Boolean: (lambda value: "true" if value else "false", _bool_in),
    Timestamptz: (timestamp_out, _timestamp_in),
    Date: (date.isoformat, date.fromisoformat),
    JSON: (_json_out, _json_in),
    Bytea: (lambda value: base64.b64encode(bytes(value)).decode("ascii"), _bytes_in),
}


def _codec(column: Column) -> tuple[Callable[[Any], str], Callable[[str], Any]]:
    for kind in type(column).__mro__:
        if kind in CODECS:
            return CODECS[kind]
    raise TypeError(f"no handover format for {type(column).__name__} ({column._meta.name})")


def encode(column: Column, value: Any) -> str:
    return NULL if value is None else _codec(column)[0](value)


def decode(column: Column, text: str) -> Any:
    return None if text == NULL else _codec(column)[1](text)
