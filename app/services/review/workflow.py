"""The one review workflow: an editor drafts, staff publish or send back with a reason, and unpublish.

Programs and articles (and later premium applications) plug in with a `Workflow`: their revisions `Kind`
(the table, the statuses the public sees) and the moves each role may make. A move is a conditional
UPDATE on the status it was read in, so two decisions at once give one; it is audited in the same
transaction, and the author hears of the secretariat's decisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.i18n import gettext as _
from app.services.notify import notices
from app.services.review import revisions
from app.services.shared import clock
from app.services.shared.actor import Actor
from app.services.shared.refusals import Refusal
from db.engine import atomic, is_row_id
from db.tables import AuditLog


class WorkflowRefused(Refusal):
    """A status change the workflow does not allow: not_found | not_your_area | not_allowed | reason_needed |
    changed_meanwhile."""


@dataclass(frozen=True)
class Workflow:
    kind: revisions.Kind  # the table, its public statuses and its changes waiting for review
    transitions: Mapping[str, set[tuple[str, str]]]  # role -> (from status, to status) it may make


async def _audit(flow: Workflow, actor_id: int | None, item_id: int, before: str, after: str, reason: str) -> None:
    name = flow.kind.name
    await AuditLog.insert(
        AuditLog(actor=actor_id, action=f"{name}.status", target_type=name, target_id=str(item_id),
                 detail={"from": before, "to": after, "reason": reason}, created_at=clock.now())
    )


async def transition(flow: Workflow, item_id: int, actor: Actor, to_status: str, reason: str = "") -> None:
    """Move an item along the workflow. Raises WorkflowRefused."""
    table = flow.kind.table
    item = await table.select(table.id, table.status, table.area, table.author, table.title).where(
        table.id == item_id
    ).first() if is_row_id(item_id) else None
    if item is None:
        raise WorkflowRefused("not_found")
    if actor.outside_area(item["area"]):
        raise WorkflowRefused("not_your_area")
    if (item["status"], to_status) not in flow.transitions.get(actor.role, set()):
        raise WorkflowRefused("not_allowed")
    reason = reason.strip()
    if to_status == "rejected" and not reason:
        raise WorkflowRefused("reason_needed")
    now = clock.now()
    changes = {table.status: to_status, table.status_reason: reason[:revisions.REASON_MAX], table.updated_at: now}
    if to_status == "published":
        changes[table.published_at] = now
    async with atomic(table._meta.db):
        moved = await table.update(changes).where((table.id == item_id) & (table.status == item["status"])).returning(table.id)
        if not moved:
            raise WorkflowRefused("changed_meanwhile")
        if to_status not in flow.kind.public:  # taken off the public site: a change waiting for review goes too
            await revisions.discard(flow.kind, item_id)
        await _audit(flow, actor.account_id, item_id, item["status"], to_status, reason)
    if actor.role == "staff" and item["author"] and item["author"] != actor.account_id:
        title = {
            "published": _("Published: %(title)s", title=item["title"]),
            "rejected": _("Sent back: %(title)s", title=item["title"]),
        }.get(to_status)
        if title:
            await notices.notify(item["author"], title, reason)


async def pending_revision(flow: Workflow, item_id: int) -> dict | None:
    """The change waiting for review for this item, if any (see revisions.py)."""
    return await revisions.pending(flow.kind, item_id) if is_row_id(item_id) else None


async def withdraw_revision(flow: Workflow, item_id: int, actor: Actor) -> None:
    """The editor takes back their change waiting for review. Raises RevisionRefused."""
    if not is_row_id(item_id):
        raise revisions.RevisionRefused("not_found")
    await revisions.withdraw(flow.kind, item_id, actor)
