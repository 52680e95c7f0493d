"""The secretariat chooses the programs and articles the portal's home page features: what may be chosen,
what is chosen (and whether the portal shows it), and adding, moving and removing one, audited."""

from __future__ import annotations

from app.i18n import gettext as _
from app.services.portal.admin import PortalRefused, audit, block_of, fields_of, upsert_block
from app.services.portal.portal import FEATURED_KINDS, featured_ids_of
from app.services.programs.programs import PUBLIC_STATUSES
from db.engine import atomic, is_row_id
from db.tables import Article, PortalBlock, Program

FEATURED_KEY = "featured"
FEATURED_MAX = 6  # per kind: a handful the home page can show without pushing everything else away
FEATURED_OPERATIONS = ("add", "up", "down", "remove")


async def featured_ids() -> dict[str, list[int]]:
    return featured_ids_of(fields_of(await block_of(FEATURED_KEY)))


async def featured_overview() -> dict[str, list[dict]]:
    """The featured items in order with their titles, each marked whether the portal shows it (only what
    is public is shown: an article sent back or a program withdrawn drops out by itself)."""
    ids = await featured_ids()
    found = {
        "programs": {r["id"]: r for r in await Program.select(Program.id, Program.title, Program.status).where(
            Program.id.is_in(ids["programs"]))} if ids["programs"] else {},
        "articles": {r["id"]: r for r in await Article.select(Article.id, Article.title, Article.status).where(
            Article.id.is_in(ids["articles"]))} if ids["articles"] else {},
    }
    public = {"programs": PUBLIC_STATUSES, "articles": ("published",)}
    return {
        kind: [
            {"id": i, "title": found[kind][i]["title"] if i in found[kind] else _("(deleted)"),
             "shown": i in found[kind] and found[kind][i]["status"] in public[kind]}
            for i in ids[kind]
        ]
        for kind in FEATURED_KINDS
    }


async def featured_choices() -> dict[str, list[dict]]:
    """What may be featured: public programs (newest start first) and published articles (newest first)."""
    return {
        "programs": await Program.select(Program.id, Program.title, Program.area.name.as_alias("area_name")).where(
            Program.status.is_in(list(PUBLIC_STATUSES))).order_by(Program.starts_at, ascending=False).limit(200),
        "articles": await Article.select(Article.id, Article.title).where(Article.status == "published").order_by(
            Article.published_at, ascending=False).limit(200),
    }


async def _is_public(kind: str, item_id: int) -> bool:
    if not is_row_id(item_id):
        return False
    if kind == "programs":
        return await Program.exists().where((Program.id == item_id) & Program.status.is_in(list(PUBLIC_STATUSES)))
    return await Article.exists().where((Article.id == item_id) & (Article.status == "published"))


async def change_featured(operation: str, kind: str, item_id: int, actor_id: int | None) -> None:
    """Add a public program or article to the featured ones (at the end), move one up or down, or remove it."""
    if kind not in FEATURED_KINDS or operation not in FEATURED_OPERATIONS:
        raise PortalRefused("not_found")
    async with atomic(PortalBlock._meta.db):
        ids = await featured_ids()
        items = ids[kind]
        if operation == "add":
            if item_id in items:
                return
            if len(items) >= FEATURED_MAX:
                raise PortalRefused("full")
            if not await _is_public(kind, item_id):
                raise PortalRefused("not_public")
            items.append(item_id)
        elif item_id not in items:
            raise PortalRefused("not_found")
        elif operation == "remove":
            items.remove(item_id)
        else:
            index = items.index(item_id)
            other = index - 1 if operation == "up" else index + 1
            if 0 <= other < len(items):
                items[index], items[other] = items[other], items[index]
        block_id = await upsert_block(FEATURED_KEY, "featured", "featured", ids)
        await audit(actor_id, "portal.featured", block_id, {"operation": operation, "kind": kind, "id": item_id,
                                                              **ids})
