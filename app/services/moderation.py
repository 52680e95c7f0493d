"""One queue for everything submitted for review: programs and articles (and, later, what members submit)."""

from __future__ import annotations

from app.services import articles, programs
from app.services.programs import Actor, WorkflowRefused
from db.tables import Program

KINDS = ("program", "article")
# What the secretariat can do from the queue, as (kind, decision) → the status it leads to.
DECISIONS = {"approve": "published", "reject": "rejected", "unpublish": "rejected"}


async def submitted_programs(area_id: int | None = None) -> list[dict]:
    query = Program.select(
        Program.id, Program.title, Program.kind, Program.updated_at, Program.area.name.as_alias("area_name"),
        Program.author.display_name.as_alias("author_name"),
    ).where(Program.status == "submitted")
    if area_id:
        query = query.where(Program.area == area_id)
    return await query.order_by(Program.updated_at)


async def queue(kind: str = "", area_id: int | None = None) -> list[dict]:
    """Everything waiting for a decision, oldest first, each row tagged with its kind."""
    items: list[dict] = []
    if kind in ("", "program"):
        items += [{**row, "item_kind": "program"} for row in await submitted_programs(area_id)]
    if kind in ("", "article"):
        items += [{**row, "item_kind": "article"} for row in await articles.submitted_articles(area_id=area_id)]
    return sorted(items, key=lambda item: item["updated_at"])


async def published(kind: str = "", area_id: int | None = None) -> list[dict]:
    """What is public now, newest first, so the secretariat can unpublish it."""
    items: list[dict] = []
    if kind in ("", "program"):
        query = Program.select(
            Program.id, Program.title, Program.kind, Program.updated_at, Program.area.name.as_alias("area_name"),
            Program.author.display_name.as_alias("author_name"),
        ).where(Program.status.is_in(["published", "closed"]))
        if area_id:
            query = query.where(Program.area == area_id)
        items += [{**row, "item_kind": "program"} for row in await query]
    if kind in ("", "article"):
        items += [{**row, "item_kind": "article"} for row in await articles.published_articles(limit=200, area_id=area_id)]
    return sorted(items, key=lambda item: item["updated_at"], reverse=True)


async def pending_count() -> int:
    return len(await queue())


async def decide(item_kind: str, item_id: int, decision: str, actor: Actor, reason: str = "") -> None:
    if item_kind not in KINDS or decision not in DECISIONS:
        raise WorkflowRefused("not_allowed")
    move = programs.transition if item_kind == "program" else articles.transition
    await move(item_id, actor, DECISIONS[decision], reason)
