"""The public portal's blocks: the hero message and the link cards staff can edit."""

from __future__ import annotations

from dataclasses import dataclass

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


async def load_portal(default_title: str, default_body: str, default_links: list[LinkCard]) -> Portal:
    """Blocks from the database; the defaults (from settings) stand in for any kind not yet written."""
    blocks = await PortalBlock.select().where(PortalBlock.active.eq(True)).order_by(PortalBlock.position)
    hero = next((b for b in blocks if b["kind"] == "hero"), None)
    links = [LinkCard(b["title"], b["body"], b["url"], b["icon"]) for b in blocks if b["kind"] == "link"]
    return Portal(
        hero_title=hero["title"] if hero else default_title,
        hero_body=hero["body"] if hero else default_body,
        links=links or default_links,
    )
