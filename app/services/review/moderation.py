"""One queue for everything waiting for the secretariat: submitted programs and articles, changes editors made
to public ones (revisions, app/services/revisions.py), and members' premium applications (premium/)."""

from __future__ import annotations

from piccolo.query import Count as CountQuery

from app.services.articles import articles
from app.services.premium import applications as premium_applications
from app.services.programs import programs
from app.services.review import revisions
from app.services.review.revisions import RevisionRefused
from app.services.review.workflow import WorkflowRefused
from app.services.shared.actor import Actor
from db.tables import Program

KINDS = ("program", "article")  # what the workflow decides; premium applications are decided by premium/
QUEUE_KINDS = (*KINDS, "premium")
# What the secretariat can do from the queue, as (kind, decision) → the status it leads to.
DECISIONS = {"approve": "published", "reject": "rejected", "unpublish": "rejected"}
# How each kind takes part in revisions.
REVISION_KINDS = {"program": programs.REVISIONS, "article": articles.REVISIONS}
REVISION_DECISIONS = ("approve", "reject")


async def submitted_programs(area_id: int | None = None) -> list[dict]:
    query = Program.select(
        Program.id, Program.title, Program.kind, Program.updated_at, Program.area.name.as_alias("area_name"),
        Program.author.display_name.as_alias("author_name"),
    ).where(Program.status == "submitted")
    if area_id:
        query = query.where(Program.area == area_id)
    return await query.order_by(Program.updated_at)


async def queue(kind: str = "", area_id: int | None = None) -> list[dict]:
    """Everything waiting for a decision, oldest first, each row tagged with its kind; a change to a public
    item has `revision_id`, `version` and `changes` (see revisions.queue)."""
    items: list[dict] = []
    if kind in ("", "program"):
        items += [{**row, "item_kind": "program"} for row in await submitted_programs(area_id)]
    if kind in ("", "article"):
        items += [{**row, "item_kind": "article"} for row in await articles.submitted_articles(area_id=area_id)]
    for name, revision_kind in REVISION_KINDS.items():
        if kind in ("", name):
            items += [{**row, "item_kind": name} for row in await revisions.queue(revision_kind, area_id)]
    if kind in ("", "premium") and not area_id:  # a member's application belongs to no area
        items += [{**row, "item_kind": "premium", "title": f"{row['display_name']} ({row['member_no']})"}
                  for row in await premium_applications.waiting()]
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


def pending_counts() -> list[CountQuery]:
    """What waits for the workflow's decision, as many as queue() lists for its kinds, in parts to add up
    (premium applications are counted by premium/ on their own). Counted by the database: every staff page shows
    the figure beside its menu, and reading the queue to count it built each waiting change's list of
    differences. Queries: attention.counts sends them with the console's other counts as one statement."""
    return [Program.count().where(Program.status == "submitted"), articles.submitted_count(),
            *[revisions.waiting_count(kind) for kind in REVISION_KINDS.values()]]


async def decide(item_kind: str, item_id: int, decision: str, actor: Actor, reason: str = "") -> None:
    if item_kind not in KINDS or decision not in DECISIONS:
        raise WorkflowRefused("not_allowed")
    move = programs.transition if item_kind == "program" else articles.transition
    await move(item_id, actor, DECISIONS[decision], reason)


async def decide_revision(revision_id: int, version: int, decision: str, actor: Actor, reason: str = "") -> dict:
    """Approve a change to a public item (its values are written to it) or send it back (it is discarded).
    Returns item_kind, id, title and the changed fields; raises RevisionRefused."""
    if decision not in REVISION_DECISIONS:
        raise RevisionRefused("not_allowed")
    item_kind = await revisions.kind_of(revision_id)
    if item_kind is None:
        raise RevisionRefused("not_found")
    kind = REVISION_KINDS[item_kind]
    if decision == "approve":
        done = await revisions.approve(kind, revision_id, version, actor)
    else:
        done = await revisions.send_back(kind, revision_id, version, actor, reason)
    return {**done, "item_kind": item_kind}
