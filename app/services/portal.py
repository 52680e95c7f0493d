"""The public portal's blocks: the hero message and the link cards staff can edit."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from app.services import articles, programs
from db.tables import PortalBlock


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


async def load_portal(default_title: str, default_body: str, default_links: list[LinkCard]) -> Portal:
    """Blocks from the database; the defaults (from settings) stand in for any kind not yet written."""
    blocks = await PortalBlock.select().where(PortalBlock.active.eq(True)).order_by(PortalBlock.position)
    hero = next((b for b in blocks if b["kind"] == "hero"), None)
    links = [LinkCard(b["title"], b["body"], b["url"], b["icon"]) for b in blocks if b["kind"] == "link"]
    return Portal(
        hero_title=hero["title"] if hero else default_title,
        hero_body=hero["body"] if hero else default_body,
        links=links or default_links,
        programs=await programs.public_programs(open_only=True, limit=3),
        articles=await articles.published_articles(limit=3),
    )


class PortalCache:
    """The portal changes a few times a month and is read on every visit, so each process keeps it
    for a few seconds. An edit clears the copy of the process that made it; the others catch up
    within `ttl_s`. Keyed by locale because the default link cards are translated."""

    def __init__(self, ttl_s: float = 10.0) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[float, Portal]] = {}

    async def get(self, key: str, load: Callable[[], Awaitable[Portal]]) -> Portal:
        entry = self._entries.get(key)
        now = time.monotonic()
        if entry and now - entry[0] < self.ttl_s:
            return entry[1]
        portal = await load()
        self._entries[key] = (now, portal)
        return portal

    def clear(self) -> None:
        self._entries.clear()
