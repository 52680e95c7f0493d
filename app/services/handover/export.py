"""The handover export: the whole installation written to one ZIP in one consistent moment and recorded in
the audit log, either as a file (the command line) or as a download the staff page sends and deletes."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import secrets
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from piccolo.table import Table

from app.i18n import TOKYO
from app.services.handover.archive_format import (
    CHUNK,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    PUBLISHED,
    README,
    README_TEXT,
    SAFE_PART,
    TABLES_DIR,
    UPLOADS_DIR,
    encode,
    timestamp_out,
)
from app.services.handover.schema import app_version, applied_migrations, column_name, columns_of, database_engine, tables
from app.services.shared import clock, exports, uploads
from db.engine import atomic
from db.tables import AuditLog

READ_BATCH = 1000
# Archives a web download left behind (a broken connection) are removed after this long.
LEFTOVER_AGE_S = 3600


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    rows: dict[str, int]
    uploads: int


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
    columns = columns_of(table)
    primary = table._meta.primary_key
    digest = hashlib.sha256()
    count = 0
    entry = _entry(TABLES_DIR + table._meta.tablename + ".csv", now, zipfile.ZIP_DEFLATED)
    with archive.open(entry, "w", force_zip64=True) as target:

        def write(data: bytes) -> None:
            digest.update(data)
            target.write(data)

        write("\ufeff".encode() + _csv_chunk([[column_name(c) for c in columns]]))
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
    engine = database_engine()
    try:
        with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            for path, name in _upload_files(var_dir):
                checksums[name] = _add_file(archive, path, name)
            upload_count = len(checksums)
            published = Path(var_dir) / PUBLISHED
            if published.is_file():  # the portal as HTML files: the city's to publish, kept as last built
                checksums[PUBLISHED] = _add_file(archive, published, PUBLISHED)
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
                                    "columns": [column_name(c) for c in columns_of(table)]})
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "app_version": app_version(),
                "created_at": timestamp_out(now),
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
