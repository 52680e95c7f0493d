"""Uploads already kept as personal documents become private: the attachments of mails that reached the desk
(desk_mail.attachments) and the receipts of budget payments (spending.receipt_url).

They were sent by people who never meant them for the public; left public, their addresses would keep opening
them for anyone who has one (a forwarded link, a shared proxy's copy). Article covers, program photos and the
portal's images stay public, as every upload was before. Going back leaves the flags: the column goes with the
migration before this one.
"""

import json
import re

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-06T14:46:48:000000"
VERSION = "1.38.0"
DESCRIPTION = "personal uploads private"

NAME = re.compile(r"^/uploads/([0-9a-f]{32}\.(?:jpg|png|webp|pdf))$")
BATCH = 500  # names per UPDATE: well under SQLite's limit of bound parameters


class _Raw(Table):
    pass


def _names(urls) -> set[str]:
    return {found.group(1) for url in urls if isinstance(url, str) and (found := NAME.match(url))}


async def personal_names() -> set[str]:
    names = _names(row["receipt_url"] for row in await _Raw.raw("SELECT receipt_url FROM spending"))
    for row in await _Raw.raw("SELECT attachments FROM desk_mail"):
        attachments = row["attachments"]
        attachments = json.loads(attachments) if isinstance(attachments, str) else attachments
        names |= _names(item.get("url") for item in attachments or [] if isinstance(item, dict))
    return names


async def mark_private() -> None:
    names = sorted(await personal_names())
    for start in range(0, len(names), BATCH):
        batch = names[start:start + BATCH]
        marks = ", ".join("{}" for _name in batch)
        await _Raw.raw(f"UPDATE upload SET private = {{}} WHERE name IN ({marks})", True, *batch)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="db", description=DESCRIPTION)
    manager.add_raw(mark_private)
    return manager
