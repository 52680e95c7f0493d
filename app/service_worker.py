"""Builds /sw.js from service_worker/: constants with a version first, the page scripts it shares, the
modules, the entry last.

The version is a hash of the worker's sources and of every static file it precaches, so any change
to either installs a new worker and its activate step drops the caches of the old one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parent.parent / "service_worker"
ENTRY = "sw.js"
# Page scripts the worker runs too, so that one implementation serves both: what a device keeps while offline
# (check-ins, the counter's uses) is sent by its page and by the worker's Background Sync alike.
SHARED_WITH_PAGES = [Path(__file__).resolve().parent / "static" / "js" / "offline_queue.js"]


def build_service_worker(precache_urls: list[str], offline_url: str, app_version: str) -> tuple[str, str]:
    modules = sorted(p for p in SOURCE_DIR.glob("*.js") if p.name != ENTRY)
    sources = [p.read_text(encoding="utf-8") for p in [*SHARED_WITH_PAGES, *modules, SOURCE_DIR / ENTRY]]
    digest = hashlib.sha256("\n".join([app_version, *precache_urls, *sources]).encode()).hexdigest()[:12]
    header = "\n".join(
        [
            "'use strict';",
            f"const SW_VERSION = {json.dumps(digest)};",
            f"const OFFLINE_URL = {json.dumps(offline_url)};",
            f"const PRECACHE_URLS = {json.dumps(precache_urls)};",
        ]
    )
    return header + "\n\n" + "\n\n".join(sources), digest
