"""What a restore refuses by size: an archive is judged by what its entries unpack to, from the ZIP's
directory before a byte is read, and again as the bytes come out; a refused archive leaves the database
and var/uploads as they were. The archives that would fill a disk are made of zeros, which deflate packs
a thousand to one: 400 MB of them take 400 kB here and no time to make.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image

from app.i18n import current_locale
from app.services.handover import export, restore
from app.services.handover.restore import HandoverRefused
from app.services.shared import uploads
from app.settings import RestoreLimits
from tests import factories
from tests.services.handover.conftest import bound_to, command, refused, row_count

MB = 1024 * 1024


@pytest.fixture
async def exported(tmp_path) -> Path:
    """A small genuine archive: an area, a member, an upload, and the export's own audit entry."""
    await factories.area()
    await factories.member()
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), "seagreen").save(picture, "JPEG")
    await uploads.save_image(picture.getvalue(), tmp_path / "source", None)
    archive = tmp_path / "handover.zip"
    await export.export_archive(archive, tmp_path / "source", actor_id=None, via="test")
    return archive


@functools.cache
def zeros(size: int) -> tuple[int, str]:
    """(CRC-32, SHA-256) of `size` zero bytes, a whole number of MB; worked out once per size."""
    crc, digest, block = 0, hashlib.sha256(), bytes(MB)
    for _ in range(size // MB):
        crc = zlib.crc32(block, crc)
        digest.update(block)
    return crc, digest.hexdigest()


def deflated_zeros(size: int) -> bytes:
    """`size` zero bytes, deflated. After a full flush deflate starts afresh, so every MB of zeros packs to the
    same kilobyte: the stream is that kilobyte repeated."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = packer.compress(bytes(MB)) + packer.flush(zlib.Z_FULL_FLUSH)
    return block * (size // MB) + packer.flush()


def with_zeros(archive: Path, entries: dict[str, int], claims: dict[str, int] | None = None) -> Path:
    """A copy of `archive` with entries of zero bytes added, listed in the manifest with their true checksums
    (as an archive made to fill a disk would be). `claims` gives sizes the ZIP's headers state instead of
    the true ones. The zero entries are written by hand, so their headers say whatever the test wants."""
    out = archive.with_name("zeros.zip")
    claims = claims or {}
    with open(out, "wb") as raw:
        directory = b""
        for name, size in entries.items():
            data, (crc, _digest) = deflated_zeros(size), zeros(size)
            offset = raw.tell()
            # version 2.0, no flags, deflated, 1980-01-01 00:00, CRC, packed size, unpacked size (as claimed)
            fields = struct.pack("<HHHHHIII", 20, 0, 8, 0, 0x21, crc, len(data), claims.get(name, size))
            raw.write(b"PK\x03\x04" + fields + struct.pack("<HH", len(name), 0) + name.encode() + data)
            directory += (b"PK\x01\x02" + struct.pack("<H", 20) + fields
                          + struct.pack("<HHHHHII", len(name), 0, 0, 0, 0, 0, offset) + name.encode())
        start = raw.tell()
        raw.write(directory + b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, len(entries), len(entries),
                                                             len(directory), start, 0))
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as target:
        manifest = json.loads(source.read("manifest.json"))
        for name in source.namelist():
            if name != "manifest.json":
                target.writestr(name, source.read(name))
        manifest["files"].update({name: zeros(size)[1] for name, size in entries.items()})
        target.writestr("manifest.json", json.dumps(manifest))
    return out


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """The names of the entries read from any ZIP."""
    names: list[str] = []
    open_entry = zipfile.ZipFile.open

    def recording_open(self, name, *args, **kwargs):
        names.append(name if isinstance(name, str) else name.filename)
        return open_entry(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", recording_open)
    return names


async def test_an_entry_that_unpacks_to_400_mb_is_refused_before_anything_is_read(target, exported, opened, tmp_path):
    bomb = with_zeros(exported, {"uploads/zeros.jpg": 400 * MB})
    assert bomb.stat().st_size < MB
    opened.clear()
    caught = await refused(bomb, target, tmp_path / "var")
    assert caught.reason == "entry_too_large" and caught.details == {"name": "uploads/zeros.jpg", "limit": 256}
    assert "uploads/zeros.jpg" in caught.message and "256 MB" in caught.message and "RESTORE_MAX_ENTRY_MB" in caught.message
    assert opened == []  # not even the manifest


async def test_an_archive_whose_entries_together_pass_the_limit_is_refused_before_anything_is_read(
        target, exported, opened, tmp_path):
    limits = RestoreLimits(max_entry_mb=4, max_total_mb=8)
    crowded = with_zeros(exported, {f"uploads/zeros-{n}.jpg": 3 * MB for n in range(3)})  # each under 4 MB, 9 MB in all
    opened.clear()
    caught = await refused(crowded, target, tmp_path / "var", limits)
    assert caught.reason == "archive_too_large" and "8 MB" in caught.message and "RESTORE_MAX_TOTAL_MB" in caught.message
    assert opened == []


async def test_an_entry_whose_header_claims_less_than_it_holds_is_refused(target, exported, tmp_path):
    lying = with_zeros(exported, {"uploads/zeros.jpg": 400 * MB}, claims={"uploads/zeros.jpg": 1024})
    caught = await refused(lying, target, tmp_path / "var")
    assert caught.reason == "unreadable_entry" and "uploads/zeros.jpg" in caught.message


async def test_the_count_while_reading_stops_an_entry_at_the_limit_on_its_own(empty_sqlite, exported, tmp_path,
                                                                              monkeypatch):
    """Were the directory's sizes not checked (or wrong in a way zipfile missed), the bytes are still counted."""
    monkeypatch.setattr(restore, "_check_sizes", lambda archive, limits: None)
    read: list[int] = []
    read_entry = zipfile.ZipExtFile.read

    def counting_read(self, n=-1):
        chunk = read_entry(self, n)
        read.append(len(chunk))
        return chunk

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)
    bomb = with_zeros(exported, {"uploads/zeros.jpg": 400 * MB})
    caught = await refused(bomb, empty_sqlite, tmp_path / "var", RestoreLimits(max_entry_mb=8, max_total_mb=64))
    assert caught.reason == "entry_too_large" and caught.details["name"] == "uploads/zeros.jpg"
    assert sum(read) <= 10 * MB  # the limit and a chunk, of 400 MB


async def test_an_archive_within_the_limits_restores(target, exported, tmp_path):
    with bound_to(target):
        summary = await restore.restore_archive(exported, tmp_path / "var", RestoreLimits(max_entry_mb=1, max_total_mb=1))
        assert await row_count() == sum(summary.rows.values()) + 1  # and the restore's audit entry
    assert summary.uploads == 1


def test_the_size_refusals_are_worded_in_japanese_and_english():
    refusals = [HandoverRefused("entry_too_large", name="tables/audit_log.csv", limit=256),
                HandoverRefused("archive_too_large", limit=4096),
                HandoverRefused("unreadable_entry", name="uploads/a.jpg")]
    japanese = [r.message for r in refusals]
    token = current_locale.set("en")
    try:
        english = [r.message for r in refusals]
    finally:
        current_locale.reset(token)
    assert "tables/audit_log.csv" in japanese[0] and "256 MB" in japanese[0] and "復元していません" in japanese[0]
    assert "4096 MB" in japanese[1] and "RESTORE_MAX_TOTAL_MB" in japanese[1] and "合計" in japanese[1]
    assert "壊れています" in japanese[2] and "uploads/a.jpg" in japanese[2]
    assert english[0].startswith("tables/audit_log.csv in the archive unpacks to more than 256 MB")
    assert english[1].startswith("The archive unpacks to more than 4096 MB in all")
    assert english[2].startswith("The archive is damaged: uploads/a.jpg cannot be read")


async def test_the_restore_command_takes_its_limits_from_the_environment(empty_sqlite, exported, tmp_path, monkeypatch):
    crowded = with_zeros(exported, {f"uploads/zeros-{n}.jpg": 3 * MB for n in range(3)})
    monkeypatch.setenv("RESTORE_MAX_TOTAL_MB", "8")
    restored = command("restore", str(crowded), database_url=empty_sqlite, var_dir=tmp_path / "target")
    assert restored.returncode == 1 and "8 MB" in restored.stderr and "RESTORE_MAX_TOTAL_MB" in restored.stderr
    assert "復元していません" in restored.stderr
    with bound_to(empty_sqlite):
        assert await row_count() == 0
