"""Handover (引き継ぎ): every table as a CSV file and every uploaded file in one ZIP, and the restore of
such a ZIP into a new, empty installation — so the municipality can keep running Tsunagu on its own
after the contract, on SQLite or PostgreSQL, whichever the archive came from.

The archive:

    manifest.json          format, app version, applied migrations, per table its file, columns and row
                           count, the creation time, and the SHA-256 of every other entry
    README.txt             the format below, for whoever opens the archive years from now
    tables/<table>.csv     one per table, in dependency order (a table after the tables it points to)
    uploads/<name>         the files under var/uploads/, byte for byte

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
import csv
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import metadata
from pathlib import Path
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
from piccolo.table import Table, sort_table_classes

from app.i18n import TOKYO
from app.i18n import gettext as _
from app.services.shared import clock, exports, uploads
from app.services.shared.refusals import Refusal
from db.engine import atomic
from db.piccolo_app import APP_CONFIG
from db.tables import AuditLog

FORMAT = "tsunagu-handover"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
README = "README.txt"
TABLES_DIR = "tables/"
UPLOADS_DIR = "uploads/"
NULL = "\\N"
READ_BATCH = 1000
# Rows go in as multi-row INSERTs with at most this many parameters: SQLite before 3.32 allows 999.
MAX_PARAMETERS = 999
CHUNK = 1024 * 1024
# A name inside uploads/ that can only land inside var/uploads: no "..", no hidden files, no separators.
SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
# Archives a web download left behind (a broken connection) are removed after this long.
LEFTOVER_AGE_S = 3600

README_TEXT = """\
Tsunagu handover archive / Tsunagu 引き継ぎデータ

manifest.json        what is inside: tables, row counts, applied migrations, SHA-256 of each file
tables/<table>.csv   one file per table, UTF-8 (with BOM), header = column names, rows in id order
uploads/<name>       uploaded images, byte for byte

Values / 値の書き方:
  NULL = \\N ; a text starting with a backslash has one more in front / バックスラッシュで始まる文字列は先頭に1つ追加
  booleans true|false ; timestamps ISO 8601 with offset ; dates YYYY-MM-DD ; JSON as JSON text ; binary as base64

Restore into a new installation / 新しい環境への復元:
  piccolo migrations forwards all
  python -m app restore <this file>.zip
See README.md of Tsunagu, "Handover: export and restore". / 手順は README.md の「Handover」を参照。
"""


class HandoverRefused(Refusal):
    """The archive cannot be restored here; `message` says why and what to do, in the person's language."""

    @property
    def message(self) -> str:
        d = self.details
        messages = {
            "not_zip": lambda: _("This file is not a ZIP archive. Choose the .zip file the handover export made."),
            "not_handover": lambda: _("This ZIP is not a Tsunagu handover archive (its manifest.json is missing or unreadable)."),
            "newer_format": lambda: _(
                "This archive was made by a newer version of Tsunagu (format %(version)s). Install that version first.",
                version=d["version"]),
            "damaged": lambda: _(
                "The archive is damaged: %(name)s does not match its checksum in the manifest. Export it again.",
                name=d["name"]),
            "unexpected_entry": lambda: _(
                "The archive contains %(name)s, which its manifest does not list. Use an archive exactly as exported.",
                name=d["name"]),
            "not_migrated": lambda: _(
                "The database has no tables yet. Run \"piccolo migrations forwards all\" first, then restore."),
            "migrations_differ": lambda: _(
                "The archive and this database are at different versions of the tables (only in the archive: "
                "%(archive)s; only here: %(here)s). Install the Tsunagu version the archive was made with, migrate, "
                "restore, then upgrade.",
                archive=", ".join(d["archive_only"]) or "-", here=", ".join(d["here_only"]) or "-"),
            "tables_differ": lambda: _(
                "The archive's tables do not match this installation's (%(tables)s). Install the Tsunagu version the "
                "archive was made with.",
                tables=", ".join(d["tables"])),
            "columns_differ": lambda: _(
                "The columns of %(table)s in the archive do not match this installation's. Install the Tsunagu "
                "version the archive was made with.",
                table=d["table"]),
            "not_empty": lambda: _(
                "The database is not empty (%(tables)s have rows). Restore only into a new, migrated, empty database.",
                tables=", ".join(d["tables"])),
            "bad_value": lambda: _(
                "%(table)s.csv, line %(line)d, column %(column)s: %(value)s cannot be read as this column's type.",
                table=d["table"], line=d["line"], column=d["column"], value=d["value"]),
            "insert_failed": lambda: _(
                "The rows of %(table)s could not be written (%(error)s). Nothing was restored.",
                table=d["table"], error=d["error"]),
        }
        return messages[self.reason]()


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    rows: dict[str, int]
    uploads: int


@dataclass(frozen=True)
class RestoreSummary:
    rows: dict[str, int]
    uploads: int
    manifest: dict = field(repr=False)


# Values as text, and back ---------------------------------------------------------------------------------


def _text_out(value: str) -> str:
    return "\\" + value if value.startswith("\\") else value


def _text_in(text: str) -> str:
    return text[1:] if text.startswith("\\") else text


def _bool_in(text: str) -> bool:
    if text not in ("true", "false"):
        raise ValueError(text)
    return text == "true"


def _timestamp_out(value: datetime) -> str:
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
    Timestamptz: (_timestamp_out, _timestamp_in),
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


# What is in the database ------------------------------------------------------------------------------


def tables() -> list[type[Table]]:
    """Every table of the app, each after the tables it points to."""
    return sort_table_classes(APP_CONFIG.table_classes)


def _columns(table: type[Table]) -> list[Column]:
    return list(table._meta.columns)


def _name(column: Column) -> str:
    return column._meta.db_column_name


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def applied_migrations() -> list[str]:
    """The migrations of the app applied to this database (Piccolo's own table), or raises if it has none."""
    rows = await AuditLog.raw("SELECT name FROM migration WHERE app_name = {}", APP_CONFIG.app_name)
    return sorted(row["name"] for row in rows)


def app_version() -> str:
    try:
        return metadata.version("tsunagu")
    except metadata.PackageNotFoundError:
        return "unknown"


def _engine():
    return AuditLog._meta.db


# Export ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    """What an export would hold now, and the exports made so far (for the staff page)."""

    rows: dict[str, int]
    uploads: int
    upload_bytes: int
    exports: list[dict]


async def overview(var_dir: Path, recent: int = 10) -> Overview:
    rows = {t._meta.tablename: await t.count() for t in tables()}
    files = [path for path, _name in _upload_files(var_dir)]
    exports_made = await AuditLog.select(
        AuditLog.created_at, AuditLog.detail, AuditLog.actor.display_name.as_alias("actor_name")
    ).where((AuditLog.action == "export.zip") & (AuditLog.target_type == "handover")).order_by(
        AuditLog.created_at, ascending=False
    ).limit(recent).output(load_json=True)
    return Overview(rows, len(files), sum(path.stat().st_size for path in files), exports_made)



def _upload_files(var_dir: Path) -> Iterator[tuple[Path, str]]:
    """(path, archive name) of each stored upload; half-written files (dot names) are left out."""
    root = uploads.directory(var_dir)
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and all(SAFE_PART.match(part) for part in relative.parts):
            yield path, UPLOADS_DIR + relative.as_posix()


def _entry(name: str, moment: datetime, compress_type: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=moment.astimezone(TOKYO).timetuple()[:6])
    info.compress_type = compress_type
    return info


def _add_file(archive: zipfile.ZipFile, path: Path, name: str) -> str:
    """Copy a file into the archive as stored (images are compressed already); returns its SHA-256."""
    digest = hashlib.sha256()
    info = _entry(name, datetime.fromtimestamp(path.stat().st_mtime, TOKYO), zipfile.ZIP_STORED)
    with open(path, "rb") as source, archive.open(info, "w", force_zip64=True) as target:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            target.write(chunk)
    return digest.hexdigest()


def _add_bytes(archive: zipfile.ZipFile, name: str, data: bytes, now: datetime) -> str:
    archive.writestr(_entry(name, now, zipfile.ZIP_DEFLATED), data)
    return hashlib.sha256(data).hexdigest()


def _csv_chunk(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8")


async def _add_table(archive: zipfile.ZipFile, table: type[Table], now: datetime) -> tuple[str, int]:
    """Write one table, in id order and in batches (memory stays flat); returns (SHA-256, row count)."""
    columns = _columns(table)
    primary = table._meta.primary_key
    digest = hashlib.sha256()
    count = 0
    entry = _entry(TABLES_DIR + table._meta.tablename + ".csv", now, zipfile.ZIP_DEFLATED)
    with archive.open(entry, "w", force_zip64=True) as target:

        def write(data: bytes) -> None:
            digest.update(data)
            target.write(data)

        write("\ufeff".encode() + _csv_chunk([[_name(c) for c in columns]]))
        last = None
        while True:
            query = table.select(*columns).order_by(primary).limit(READ_BATCH)
            if last is not None:
                query = query.where(primary > last)
            rows = await query
            if not rows:
                break
            write(_csv_chunk([[encode(c, row[c._meta.name]) for c in columns] for row in rows]))
            count += len(rows)
            last = rows[-1][primary._meta.name]
    return digest.hexdigest(), count


def _sweep(directory: Path) -> None:
    """Remove archives an interrupted download left behind: they hold everyone's personal data."""
    limit = clock.now().timestamp() - LEFTOVER_AGE_S
    for path in directory.glob("*.zip"):
        if path.stat().st_mtime < limit:
            path.unlink(missing_ok=True)


def archive_name(now: datetime) -> str:
    return f"tsunagu-handover-{now.astimezone(TOKYO):%Y%m%d-%H%M%S}.zip"


def download_path(var_dir: Path, now: datetime) -> Path:
    """Where a web export is written before it is sent (and deleted once it has been)."""
    directory = Path(var_dir) / "handover"
    directory.mkdir(parents=True, exist_ok=True)
    _sweep(directory)
    return directory / f"{secrets.token_hex(8)}-{archive_name(now)}"


async def export_archive(destination: Path, var_dir: Path, actor_id: int | None, via: str) -> ExportSummary:
    """Write the whole installation to `destination` and record the export in the audit log.

    The tables are read in one transaction, so the archive is one consistent moment (a redemption never
    points at a pass the archive lacks): REPEATABLE READ on PostgreSQL, the write lock on SQLite, where
    writers wait meanwhile. The audit entry is written in that same transaction, first: it is part of
    the archive, and it disappears with it if the export fails. Uploads are copied before the snapshot:
    files are written before their rows, so every row the snapshot holds has its file.
    """
    destination = Path(destination)
    now = clock.now()
    checksums: dict[str, str] = {}
    rows: dict[str, int] = {}
    entries: list[dict] = []
    engine = _engine()
    try:
        with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            for path, name in _upload_files(var_dir):
                checksums[name] = _add_file(archive, path, name)
            upload_count = len(checksums)
            checksums[README] = _add_bytes(archive, README, README_TEXT.encode("utf-8"), now)
            async with atomic(engine):
                if engine.engine_type == "postgres":
                    await AuditLog.raw("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                migrations = await applied_migrations()
                detail = {"kind": "handover", "via": via, "file": archive_name(now), "uploads": upload_count}
                await exports.record_export(actor_id, "handover", "all", detail, now, file_type="zip")
                for table in tables():
                    name = table._meta.tablename
                    checksum, count = await _add_table(archive, table, now)
                    checksums[TABLES_DIR + name + ".csv"] = checksum
                    rows[name] = count
                    entries.append({"name": name, "file": TABLES_DIR + name + ".csv", "rows": count,
                                    "columns": [_name(c) for c in _columns(table)]})
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "app_version": app_version(),
                "created_at": _timestamp_out(now),
                "database": engine.engine_type,
                "migrations": migrations,
                "tables": entries,
                "uploads": upload_count,
                "files": checksums,
            }
            _add_bytes(archive, MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"), now)
    except BaseException:
        destination.unlink(missing_ok=True)
        raise
    return ExportSummary(destination, rows, upload_count)


# Restore --------------------------------------------------------------------------------------------


def _read_manifest(archive: zipfile.ZipFile) -> dict:
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except (KeyError, ValueError):
        raise HandoverRefused("not_handover") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise HandoverRefused("not_handover")
    if not isinstance(manifest.get("format_version"), int) or manifest["format_version"] > FORMAT_VERSION:
        raise HandoverRefused("newer_format", version=manifest.get("format_version"))
    if not isinstance(manifest.get("files"), dict) or not isinstance(manifest.get("tables"), list):
        raise HandoverRefused("not_handover")
    return manifest


def _check_entries(archive: zipfile.ZipFile, manifest: dict) -> None:
    """Every entry is listed and matches its checksum; every listed file is there; upload names are safe."""
    listed = manifest["files"]
    present = {info.filename for info in archive.infolist() if not info.is_dir()}
    for name in sorted(present - {MANIFEST}):
        if name not in listed:
            raise HandoverRefused("unexpected_entry", name=name)
        if name.startswith(UPLOADS_DIR) and not all(SAFE_PART.match(p) for p in name[len(UPLOADS_DIR):].split("/")):
            raise HandoverRefused("unexpected_entry", name=name)
        digest = hashlib.sha256()
        with archive.open(name) as entry:
            while chunk := entry.read(CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != listed[name]:
            raise HandoverRefused("damaged", name=name)
    missing = sorted(set(listed) - present)
    if missing:
        raise HandoverRefused("damaged", name=missing[0])


async def _check_database(manifest: dict) -> None:
    """The database is migrated exactly as the archive's was, has the same tables, and is empty."""
    try:
        here = await applied_migrations()
    except Exception:  # no migration table: the database was never migrated
        raise HandoverRefused("not_migrated") from None
    if not here:
        raise HandoverRefused("not_migrated")
    archived = sorted(str(name) for name in manifest.get("migrations", []))
    if archived != here:
        raise HandoverRefused("migrations_differ", archive_only=sorted(set(archived) - set(here)),
                              here_only=sorted(set(here) - set(archived)))
    names = [t._meta.tablename for t in tables()]
    archived_tables = [str(entry.get("name")) for entry in manifest["tables"] if isinstance(entry, dict)]
    if sorted(archived_tables) != sorted(names):
        raise HandoverRefused("tables_differ", tables=sorted(set(archived_tables) ^ set(names)))
    for name in names:
        if TABLES_DIR + name + ".csv" not in manifest["files"]:
            raise HandoverRefused("damaged", name=TABLES_DIR + name + ".csv")
    filled = [t._meta.tablename for t in tables() if await t.count() > 0]
    if filled:
        raise HandoverRefused("not_empty", tables=filled)


def _csv_rows(archive: zipfile.ZipFile, name: str) -> Iterator[list[str]]:
    with archive.open(name) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        yield from csv.reader(text)


def _batches(rows: Iterator[list[Any]], size: int) -> Iterator[list[list[Any]]]:
    batch: list[list[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def _insert_table(archive: zipfile.ZipFile, table: type[Table]) -> int:
    name = table._meta.tablename
    reader = _csv_rows(archive, TABLES_DIR + name + ".csv")
    header = next(reader, None)
    by_name = {_name(c): c for c in _columns(table)}
    if header is None or sorted(header) != sorted(by_name) or len(set(header)) != len(header):
        raise HandoverRefused("columns_differ", table=name)
    columns = [by_name[h] for h in header]

    def parsed() -> Iterator[list[Any]]:
        for line, row in enumerate(reader, start=2):
            if len(row) != len(columns):
                raise HandoverRefused("columns_differ", table=name)
            values = []
            for column, text in zip(columns, row, strict=True):
                try:
                    values.append(decode(column, text))
                except (ValueError, TypeError):
                    raise HandoverRefused("bad_value", table=name, line=line, column=_name(column),
                                          value=text[:40]) from None
            yield values

    placeholders = "(" + ", ".join("{}" for _c in columns) + ")"
    into = f"INSERT INTO {_quoted(name)} ({', '.join(_quoted(h) for h in header)}) VALUES "
    count = 0
    for batch in _batches(parsed(), max(1, MAX_PARAMETERS // len(columns))):
        try:
            await table.raw(into + ", ".join([placeholders] * len(batch)), *[v for row in batch for v in row])
        except HandoverRefused:
            raise
        except Exception as exc:  # the database refused a value (too long, out of range, a broken reference)
            raise HandoverRefused("insert_failed", table=name, error=str(exc)[:300]) from exc
        count += len(batch)
    return count


async def _reset_sequences() -> None:
    """PostgreSQL hands out ids from a sequence that inserted ids do not move: set each past the largest
    id, so the next new row gets a fresh one. (SQLite takes the largest rowid + 1 by itself.)"""
    for table in tables():
        name, key = table._meta.tablename, table._meta.primary_key._meta.db_column_name
        await table.raw(
            f"SELECT setval(pg_get_serial_sequence({{}}, {{}}), COALESCE(MAX({_quoted(key)}), 0) + 1, false) "
            f"FROM {_quoted(name)}",
            _quoted(name), key,
        )


def _extract_uploads(archive: zipfile.ZipFile, manifest: dict, staging: Path) -> list[str]:
    names = sorted(n for n in manifest["files"] if n.startswith(UPLOADS_DIR))
    for name in names:
        target = staging / name[len(UPLOADS_DIR):]
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(name) as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out, CHUNK)
    return names


async def restore_archive(source: Path, var_dir: Path) -> RestoreSummary:
    """Restore an archive into this (empty, migrated) installation, all or nothing.

    Everything is checked before anything is written: the manifest, each file's checksum, the migrations,
    the tables and their columns, and that the database is empty. The rows then go in, table after table
    in dependency order, in one transaction; the uploads are unpacked beside var/uploads first and moved
    into place only once the rows are committed.
    """
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError):
        raise HandoverRefused("not_zip") from None
    with archive:
        manifest = _read_manifest(archive)
        _check_entries(archive, manifest)
        await _check_database(manifest)
        target = uploads.directory(var_dir)
        staging = Path(var_dir) / f".restore-{secrets.token_hex(6)}"
        try:
            names = _extract_uploads(archive, manifest, staging)
            engine = _engine()
            rows: dict[str, int] = {}
            async with atomic(engine):
                for table in tables():
                    rows[table._meta.tablename] = await _insert_table(archive, table)
                if engine.engine_type == "postgres":
                    await _reset_sequences()
                await AuditLog.insert(AuditLog(
                    action="handover.restore", target_type="handover", target_id="all", created_at=clock.now(),
                    detail={"created_at": manifest.get("created_at"), "app_version": manifest.get("app_version"),
                            "database": manifest.get("database"), "rows": sum(rows.values()), "uploads": len(names)},
                ))
            for name in names:
                destination = target / name[len(UPLOADS_DIR):]
                destination.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / name[len(UPLOADS_DIR):], destination)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return RestoreSummary(rows, len(names), manifest)
