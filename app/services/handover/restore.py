"""The handover restore: an archive checked in full (sizes, manifest, checksums, migrations, tables, an
empty database) before anything is written, then restored all or nothing, with the reasons it can be refused."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import lzma
import os
import secrets
import shutil
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from piccolo.table import Table

from app.i18n import gettext as _
from app.services.handover.archive_format import (
    CHUNK,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    PUBLISHED,
    SAFE_PART,
    TABLES_DIR,
    UPLOADS_DIR,
    decode,
)
from app.services.handover.schema import applied_migrations, column_name, columns_of, database_engine, quoted, tables
from app.services.shared import clock, uploads
from app.services.shared.refusals import Refusal
from app.settings import RestoreLimits
from db.engine import atomic
from db.tables import AuditLog

# Rows go in as multi-row INSERTs with at most this many parameters: SQLite before 3.32 allows 999.
MAX_PARAMETERS = 999
MB = 1024 * 1024
# What the ZIP library raises for an entry it cannot read: data that does not match the entry's CRC or
# size, broken compressed data, an unknown compression method, an encrypted entry.
UNREADABLE = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, NotImplementedError, RuntimeError)


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
            "entry_too_large": lambda: _(
                "%(name)s in the archive unpacks to more than %(limit)d MB, the most one file may have "
                "(RESTORE_MAX_ENTRY_MB). Nothing was restored. If the archive is genuine, raise RESTORE_MAX_ENTRY_MB "
                "and restore again.",
                name=d["name"], limit=d["limit"]),
            "archive_too_large": lambda: _(
                "The archive unpacks to more than %(limit)d MB in all, the most a restore takes "
                "(RESTORE_MAX_TOTAL_MB). Nothing was restored. If the archive is genuine, raise RESTORE_MAX_TOTAL_MB "
                "and restore again.",
                limit=d["limit"]),
            "unreadable_entry": lambda: _(
                "The archive is damaged: %(name)s cannot be read (its data does not match its size or CRC in the "
                "ZIP). Export it again.",
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
class RestoreSummary:
    rows: dict[str, int]
    uploads: int
    manifest: dict = field(repr=False)


def _check_sizes(archive: zipfile.ZipFile, limits: RestoreLimits) -> None:
    """From the ZIP's central directory, before any entry is read: no entry unpacks to more than the limit for
    one file, and all of them together not to more than the limit for the whole archive."""
    total = 0
    for info in archive.infolist():
        if info.file_size > limits.max_entry_mb * MB:
            raise HandoverRefused("entry_too_large", name=info.filename, limit=limits.max_entry_mb)
        total += info.file_size
    if total > limits.max_total_mb * MB:
        raise HandoverRefused("archive_too_large", limit=limits.max_total_mb)


class _Unpacked:
    """The bytes unpacked so far, counted as they come out, so the limits hold even when an entry's header
    lies about its size. (zipfile itself stops at the size the central directory gives and then finds the
    CRC wrong; the limits do not depend on that.)"""

    def __init__(self, limits: RestoreLimits) -> None:
        self.limits = limits
        self.total = 0

    def chunks(self, archive: zipfile.ZipFile, name: str) -> Iterator[bytes]:
        size = 0
        try:
            with archive.open(name) as entry:
                while chunk := entry.read(CHUNK):
                    size += len(chunk)
                    self.total += len(chunk)
                    if size > self.limits.max_entry_mb * MB:
                        raise HandoverRefused("entry_too_large", name=name, limit=self.limits.max_entry_mb)
                    if self.total > self.limits.max_total_mb * MB:
                        raise HandoverRefused("archive_too_large", limit=self.limits.max_total_mb)
                    yield chunk
        except UNREADABLE:
            raise HandoverRefused("unreadable_entry", name=name) from None


def _read_manifest(archive: zipfile.ZipFile, unpacked: _Unpacked) -> dict:
    try:
        manifest = json.loads(b"".join(unpacked.chunks(archive, MANIFEST)))
    except (KeyError, ValueError):
        raise HandoverRefused("not_handover") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise HandoverRefused("not_handover")
    if not isinstance(manifest.get("format_version"), int) or manifest["format_version"] > FORMAT_VERSION:
        raise HandoverRefused("newer_format", version=manifest.get("format_version"))
    if not isinstance(manifest.get("files"), dict) or not isinstance(manifest.get("tables"), list):
        raise HandoverRefused("not_handover")
    return manifest


def _check_entries(archive: zipfile.ZipFile, manifest: dict, unpacked: _Unpacked) -> None:
    """Every entry is listed and matches its checksum; every listed file is there; upload names are safe.
    Each entry is read here once in full, within the limits; later reads give the same checked bytes."""
    listed = manifest["files"]
    present = {info.filename for info in archive.infolist() if not info.is_dir()}
    for name in sorted(present - {MANIFEST}):
        if name not in listed:
            raise HandoverRefused("unexpected_entry", name=name)
        if name.startswith(UPLOADS_DIR) and not all(SAFE_PART.match(p) for p in name[len(UPLOADS_DIR):].split("/")):
            raise HandoverRefused("unexpected_entry", name=name)
        digest = hashlib.sha256()
        for chunk in unpacked.chunks(archive, name):
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
    by_name = {column_name(c): c for c in columns_of(table)}
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
                    raise HandoverRefused("bad_value", table=name, line=line, column=column_name(column),
                                          value=text[:40]) from None
            yield values

    placeholders = "(" + ", ".join("{}" for _c in columns) + ")"
    into = f"INSERT INTO {quoted(name)} ({', '.join(quoted(h) for h in header)}) VALUES "
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
            f"SELECT setval(pg_get_serial_sequence({{}}, {{}}), COALESCE(MAX({quoted(key)}), 0) + 1, false) "
            f"FROM {quoted(name)}",
            quoted(name), key,
        )


def _extract(archive: zipfile.ZipFile, name: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(name) as source, open(target, "wb") as out:
        shutil.copyfileobj(source, out, CHUNK)


def _extract_uploads(archive: zipfile.ZipFile, manifest: dict, staging: Path) -> list[str]:
    names = sorted(n for n in manifest["files"] if n.startswith(UPLOADS_DIR))
    for name in names:
        _extract(archive, name, staging / name[len(UPLOADS_DIR):])
    if PUBLISHED in manifest["files"]:
        _extract(archive, PUBLISHED, staging / PUBLISHED)
    return names


async def restore_archive(source: Path, var_dir: Path, limits: RestoreLimits | None = None) -> RestoreSummary:
    """Restore an archive into this (empty, migrated) installation, all or nothing.

    Everything is checked before anything is written: the sizes its entries unpack to (from the ZIP's
    directory, then again as they are read), the manifest, each file's checksum, the migrations, the tables
    and their columns, and that the database is empty. The rows then go in, table after table in dependency
    order, in one transaction; the uploads are unpacked beside var/uploads first and moved into place only
    once the rows are committed.
    """
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError):
        raise HandoverRefused("not_zip") from None
    limits = limits or RestoreLimits()
    with archive:
        _check_sizes(archive, limits)
        unpacked = _Unpacked(limits)
        manifest = _read_manifest(archive, unpacked)
        _check_entries(archive, manifest, unpacked)
        await _check_database(manifest)
        target = uploads.directory(var_dir)
        staging = Path(var_dir) / f".restore-{secrets.token_hex(6)}"
        try:
            names = _extract_uploads(archive, manifest, staging)
            engine = database_engine()
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
            if PUBLISHED in manifest["files"]:
                (Path(var_dir) / PUBLISHED).parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / PUBLISHED, Path(var_dir) / PUBLISHED)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return RestoreSummary(rows, len(names), manifest)
