"""The public portal's blocks: the hero message and image, the link cards, the consultation desk and the
featured programs and articles, all edited by staff (admin.py and featured_admin.py here)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from app.services.articles import articles
from app.services.desk.contact import Desk, desk_from_blocks
from app.services.programs import programs, reads
from db.tables import Article, PortalBlock, Program

# The "featured" block's fields: {"programs": [ids], "articles": [ids]}, in the order shown.
FEATURED_KINDS = ("programs", "articles")


def featured_ids_of(fields: object) -> dict[str, list[int]]:
    """The ids in a "featured" block's fields, per kind; anything else in them is ignored."""
    fields = fields if isinstance(fields, dict) else {}
    return {kind: [i for i in fields.get(kind, []) if isinstance(i, int)] for kind in FEATURED_KINDS}


@dataclass(frozen=True)
class LinkCard:
    title: str
    body: str
    url: str
    icon: str


@dataclass(frozen=True)
class Portal:
    hero_title: str
    hero_body: str
    links: list[LinkCard]
    programs: list[dict] = field(default_factory=list)
    articles: list[dict] = field(default_factory=list)
    hero_image: str = ""
    hero_image_alt: str = ""
    featured_programs: list[dict] = field(default_factory=list)
    featured_articles: list[dict] = field(default_factory=list)
    desk: Desk | None = None  # shown once staff have written the desk's contact details


async def featured_programs(ids: list[int]) -> list[dict]:
    """The programs among `ids` that are public now, in the order of `ids`."""
    if not ids:
        return []
    rows = await Program.select(*Program.all_columns(), Program.area.name.as_alias("area_name")).where(
        Program.id.is_in(ids) & Program.status.is_in(list(programs.PUBLIC_STATUSES))
    )
    return sorted(rows, key=lambda row: ids.index(row["id"]))


async def featured_articles(ids: list[int]) -> list[dict]:
    """The articles among `ids` that are published now, in the order of `ids`."""
    if not ids:
        return []
    rows = await Article.select(Article.id, Article.kind, Article.title, Article.lead, Article.cover_image).where(
        Article.id.is_in(ids) & (Article.status == "published")
    )
    return sorted(rows, key=lambda row: ids.index(row["id"]))


async def load_portal(default_title: str, default_body: str, default_links: list[LinkCard]) -> Portal:
    """Blocks from the database; the defaults (from settings) stand in for any kind not yet written.
    The default link cards show only while no card exists at all: staff may hide every card."""
    every = await PortalBlock.select().order_by(PortalBlock.position).order_by(PortalBlock.id).output(load_json=True)
    blocks = [b for b in every if b["active"]]
    hero = next((b for b in blocks if b["kind"] == "hero"), None)
    hero_fields = hero["fields"] if hero and isinstance(hero["fields"], dict) else {}
    links = [LinkCard(b["title"], b["body"], b["url"], b["icon"]) for b in blocks if b["kind"] == "link"]
    chosen = featured_ids_of(next((b["fields"] for b in blocks if b["kind"] == "featured"), {}))
    return Portal(
        hero_title=hero["title"] if hero else default_title,
        hero_body=hero["body"] if hero else default_body,
        links=links if any(b["kind"] == "link" for b in every) else default_links,
        programs=await reads.public_programs(open_only=True, limit=3),
        articles=await articles.published_articles(limit=3),
        hero_image=str(hero_fields.get("image", "")),
        hero_image_alt=str(hero_fields.get("image_alt", "")),
        featured_programs=await featured_programs(chosen["programs"]),
        featured_articles=await featured_articles(chosen["articles"]),
        desk=desk_from_blocks(blocks, "") if any(b["kind"] == "desk" for b in blocks) else None,
    )


class PortalCache:
    """The portal changes a few times a month and is read on every visit, so each process keeps it
    for a few seconds. An edit clears the copy of the process that made it; the others catch up
    within `ttl_s`. Keyed by locale because the default link cards are translated."""

    def __init__(self, ttl_s: float = 10.0) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[float, int | None, Portal]] = {}

    async def get(self, key: str, load: Callable[[], Awaitable[Portal]], version: int | None = None) -> Portal:
        """The copy kept for `key`, or a new one. With `version`, the shared page version a member's login read
        (db/page_versions.py), only a copy loaded after that version was read: their home page is kept under it
        (app/page_cache.py), so a copy older than it, from before another process's edit, would be kept too."""
        entry = self._entries.get(key)
        now = time.monotonic()
        if entry and now - entry[0] < self.ttl_s and (version is None or entry[1] == version):
            return entry[2]
        portal = await load()
        self._entries[key] = (now, version, portal)
        return portal

    def clear(self) -> None:
        self._entries.clear()
