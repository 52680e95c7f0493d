"""An uploaded file held between the steps of an import (upload → columns → preview → run), on disk under
var/imports, for the person who uploaded it only and for a day at most.

The file holds personal data, so it is kept no longer than the import needs: a run takes it (a rename, so a
double click or two tabs run it once) and deletes it, and any file older than HOLD_FOR is deleted whenever
another is held or looked at. The name is random; what the sender called the file is kept only as a label.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from app.services.imports import reader
from app.services.shared import clock

HOLD_FOR = timedelta(days=1)
TOKEN = re.compile(r"^[0-9a-f]{32}$")
FILENAME_MAX = 120


@dataclass(frozen=True)
class Held:
    token: str
    kind: str  # registrants | attendance
    filename: str
    owner: int
    held_at: datetime
    sha256: str
    data: bytes


def directory(var_dir: Path) -> Path:
    return Path(var_dir) / "imports"


def hold(var_dir: Path, data: bytes, filename: str, owner: int, kind: str) -> str:
    """Keep the file for the next steps; returns its token."""
    purge_stale(var_dir)
    token = secrets.token_hex(16)
    folder = directory(var_dir)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"kind": kind, "filename": _label(filename), "owner": owner, "held_at": clock.now().isoformat(),
            "sha256": hashlib.sha256(data).hexdigest()}
    (folder / f"{token}.bin").write_bytes(data)
    (folder / f"{token}.json").write_text(json.dumps(meta), encoding="utf-8")
    return token


def load(var_dir: Path, token: str, owner: int, kind: str) -> Held | None:
    """The held file, or None when the token is unknown, another person's or another import's, or too old."""
    purge_stale(var_dir)
    if not TOKEN.match(token or ""):
        return None
    folder = directory(var_dir)
    try:
        meta = json.loads((folder / f"{token}.json").read_text(encoding="utf-8"))
        data = (folder / f"{token}.bin").read_bytes()
    except (OSError, ValueError):
        return None
    if meta.get("owner") != owner or meta.get("kind") != kind:
        return None
    return Held(token, kind, meta["filename"], owner, datetime.fromisoformat(meta["held_at"]), meta["sha256"], data)


def take(var_dir: Path, token: str, owner: int, kind: str) -> Held | None:
    """The held file, taken away so no second run can have it: of two requests at once, one gets it."""
    held = load(var_dir, token, owner, kind)
    if held is None:
        return None
    folder = directory(var_dir)
    taken = folder / f"{token}.taken-{secrets.token_hex(4)}"
    try:
        os.rename(folder / f"{token}.bin", taken)  # atomic: the other request's rename fails
    except OSError:
        return None
    taken.unlink(missing_ok=True)
    (folder / f"{token}.json").unlink(missing_ok=True)
    return held


def purge_stale(var_dir: Path, now: datetime | None = None) -> int:
    """Delete every held file older than HOLD_FOR (and what a crash left behind); returns how many."""
    folder = directory(var_dir)
    if not folder.is_dir():
        return 0
    cutoff = ((now or clock.now()) - HOLD_FOR).timestamp()
    removed = 0
    for path in folder.iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError:
            continue
    return removed


def _label(filename: str) -> str:
    """The sender's file name as a label only: no folders, no control characters, not too long."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:FILENAME_MAX] or "upload.csv"


def forget_naming(var_dir: Path, addresses: set[str]) -> int:
    """Delete the held files that name one of `addresses` (a person who deleted their account): what waits for
    the next step of an import is personal data too. Returns how many."""
    wanted = {a.strip().lower() for a in addresses if a.strip()}
    folder = directory(var_dir)
    if not wanted or not folder.is_dir():
        return 0
    forgotten = 0
    for path in sorted(folder.glob("*.bin")):
        try:
            text = reader.decode(path.read_bytes())[0].lower()
        except reader.FileRefused:
            continue
        if any(address in text for address in wanted):
            path.unlink(missing_ok=True)
            path.with_suffix(".json").unlink(missing_ok=True)
            forgotten += 1
    return forgotten
