"""Pending changes (審査待ちの変更) to programs and articles the public already sees: one mechanism for both.

An editor's change to a public item is kept as a revision — the proposed values, who, when — and the public
page keeps the published values. Editing again replaces the revision (its `version` grows); the editor may
withdraw it; the secretariat approves it (the values are written to the item) or sends it back with a reason.

Each kind of item describes itself once (`Kind`: its table, the fields a revision may change, which statuses
are public, an extra rule for approval) in its own service module; everything else happens here.

Races: an approval names the version it saw and takes the revision by a conditional DELETE, so a revision
replaced meanwhile, or already decided by someone else, is refused and never applied stale. Every writer
locks the item row first and the revision second (the same order everywhere, so PostgreSQL never deadlocks),
and everything an approval writes happens in one transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from piccolo.columns import ForeignKey, Timestamptz
from piccolo.query import Count as CountQuery
from piccolo.table import Table

from app.i18n import gettext as _
from app.services.notify import notices
from app.services.shared import clock
from app.services.shared.refusals import Refusal
from db.engine import atomic, is_row_id, is_unique_violation
from db.tables import AuditLog, Revision

# What update_program and update_article return when an editor's change waits as a revision.
PROPOSED = "proposed"
REASON_MAX = 500


class RevisionRefused(Refusal):
    """reason: not_found, no_revision, not_your_area, not_allowed, not_public, reason_needed, changed_meanwhile,
    capacity (details: capacity, count)."""


@dataclass(frozen=True)
class Kind:
    """How one kind of item takes part in revisions."""

    name: str  # "program" | "article": also the Revision column that points at the item
    table: type[Table]
    fields: dict[str, Any]  # the columns a revision may change, with their labels, in the order of the form
    proposable: tuple[str, ...]  # statuses in which an editor's change waits as a revision
    public: tuple[str, ...]  # statuses in which a revision may be applied (the public sees the item)
    describe: Callable[[str, Any], Awaitable[str]]  # a (non-empty) value as a person reads it
    path: Callable[[int], str]  # the item's public page, for the author's notice
    long: frozenset[str] = field(default_factory=frozenset)  # listed as "… was changed", not old → new
    # Approval rule: raises RevisionRefused for the values against the item as read, and the same rule as a
    # condition of the UPDATE (None: nothing to add for these values), so a row changed meanwhile (a seat
    # taken) is never written past it. A revision holds only the fields it changes.
    check: Callable[[dict, dict], None] | None = None
    guard: Callable[[dict], Any] | None = None

    @property
    def link(self) -> ForeignKey:
        return getattr(Revision, self.name)

    def column(self, name: str):
        return self.table._meta.get_column_by_name(name)


# Values: column name -> value; stored as JSON, times as ISO 8601 text -------------------------------------


def encode(kind: Kind, values: dict) -> dict:
    return {name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in values.items() if name in kind.fields}


def decode(kind: Kind, stored: dict) -> dict:
    values = {}
    for name, value in stored.items():
        if name not in kind.fields:
            continue
        if isinstance(kind.column(name), Timestamptz) and isinstance(value, str):
            value = datetime.fromisoformat(value)
        values[name] = value
    return values


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, datetime) and isinstance(new, datetime):
        # Forms hold times to the minute: a time saved untouched is no change, whatever seconds it had.
        return old.replace(second=0, microsecond=0) == new.replace(second=0, microsecond=0)
    return (old if old is not None else "") == (new if new is not None else "")


def changed_fields(kind: Kind, item: dict, values: dict) -> list[str]:
    return [name for name in kind.fields if name in values and not _same(item.get(name), values[name])]


async def _readable(kind: Kind, name: str, value: Any) -> str:
    return "—" if value in (None, "", []) else await kind.describe(name, value)


async def changes(kind: Kind, item: dict, values: dict) -> list[dict]:
    """What the revision would change, in form order: label, and old → new as a person reads them (a long
    field only says that it changed)."""
    out = []
    for name in changed_fields(kind, item, values):
        entry = {"field": name, "label": str(kind.fields[name]), "long": name in kind.long, "old": "", "new": ""}
        if not entry["long"]:
            entry["old"] = await _readable(kind, name, item.get(name))
            entry["new"] = await _readable(kind, name, values[name])
        out.append(entry)
    return out


def merged(item: dict, revision: dict | None) -> dict:
    """The item as it will be once the revision is applied (for the editor's form and the preview)."""
    return {**item, **revision["values"]} if revision else item


# Reads ------------------------------------------------------------------------------------------------


def _revision_columns(kind: Kind) -> tuple:
    return (Revision.id, Revision.version, Revision.proposed, Revision.created_at, Revision.updated_at,
            Revision.author, kind.link.as_alias("item_id"), Revision.author.display_name.as_alias("author_name"))


def _out(kind: Kind, row: dict) -> dict:
    return {**row, "values": decode(kind, row.pop("proposed") or {})}


async def pending(kind: Kind, item_id: int) -> dict | None:
    """The item's revision: id, version, values (decoded), author, author_name, created_at, updated_at."""
    row = await Revision.select(*_revision_columns(kind)).where(kind.link == item_id).first().output(load_json=True)
    return _out(kind, row) if row else None


async def by_id(kind: Kind, revision_id: int) -> dict | None:
    if not is_row_id(revision_id):
        return None
    row = await Revision.select(*_revision_columns(kind)).where(
        (Revision.id == revision_id) & kind.link.is_not_null()
    ).first().output(load_json=True)
    return _out(kind, row) if row else None


async def kind_of(revision_id: int) -> str | None:
    """"program" or "article": what a revision id belongs to, or None when there is no such revision."""
    if not is_row_id(revision_id):
        return None
    row = await Revision.select(Revision.program, Revision.article).where(Revision.id == revision_id).first()
    if row is None:
        return None
    return "program" if row["program"] is not None else "article" if row["article"] is not None else None


async def pending_ids(kind: Kind) -> set[int]:
    """The items of this kind with a change waiting for review (for the editors' lists)."""
    rows = await Revision.select(kind.link.as_alias("item_id")).where(kind.link.is_not_null())
    return {row["item_id"] for row in rows}


async def item(kind: Kind, item_id: int) -> dict | None:
    table = kind.table
    return await table.select(*table.all_columns(), table.area.name.as_alias("area_name")).where(
        table.id == item_id
    ).first().output(load_json=True)


async def queue(kind: Kind, area_id: int | None = None) -> list[dict]:
    """The revisions waiting for the secretariat, oldest change first, with their item and what they change:
    revision_id, version, id (the item's), title, status, area_name, author_name, updated_at, changes."""
    rows = await Revision.select(*_revision_columns(kind)).where(kind.link.is_not_null()).order_by(
        Revision.updated_at).order_by(Revision.id).output(load_json=True)
    if not rows:
        return []
    table = kind.table
    query = table.select(*table.all_columns(), table.area.name.as_alias("area_name")).where(
        table.id.is_in([row["item_id"] for row in rows]))
    if area_id:
        query = query.where(table.area == area_id)
    items = {row["id"]: row for row in await query.output(load_json=True)}
    out = []
    for row in rows:
        current = items.get(row["item_id"])
        if current is None:
            continue
        revision = _out(kind, row)
        out.append({
            "revision_id": revision["id"], "version": revision["version"], "id": current["id"],
            "title": current["title"], "status": current["status"], "area_name": current["area_name"],
            "author_name": revision["author_name"], "updated_at": revision["updated_at"],
            "changes": await changes(kind, current, revision["values"]),
        })
    return out


def waiting_count(kind: Kind) -> CountQuery:
    """How many revisions queue() lists for the kind without an area: each one's item exists (its foreign key).
    A query: awaited, the number."""
    return Revision.count().where(kind.link.is_not_null())


# The editor: propose (or replace) and withdraw ------------------------------------------------------------


async def _hold(kind: Kind, item_id: int, statuses: tuple[str, ...]) -> bool:
    """Inside a transaction: lock the item row while it is still in one of `statuses` (a write that changes
    nothing), so a decision on the item cannot slip between our read and our write."""
    table = kind.table
    rows = await table.update({table.status: table.status}).where(
        (table.id == item_id) & table.status.is_in(list(statuses))
    ).returning(table.id)
    return bool(rows)


async def propose(kind: Kind, current: dict, values: dict, author_id: int) -> int | None:
    """Keep an editor's change to a public item as its revision, replacing the one before. Values equal to
    the published ones leave nothing waiting (None is returned); otherwise the revision's id."""
    item_id = current["id"]
    # Only what differs: a field staff change meanwhile is not put back by approving this revision.
    proposed = encode(kind, {name: values[name] for name in changed_fields(kind, current, values)})
    now = clock.now()
    try:
        async with atomic(Revision._meta.db):
            if not await _hold(kind, item_id, kind.proposable):
                raise RevisionRefused("changed_meanwhile")
            if not proposed:
                await Revision.delete().where(kind.link == item_id)
                return None
            replaced = await Revision.update({
                Revision.proposed: proposed, Revision.version: Revision.version + 1, Revision.author: author_id,
                Revision.updated_at: now,
            }).where(kind.link == item_id).returning(Revision.id)
            if replaced:
                return replaced[0]["id"]
            rows = await Revision.insert(Revision(**{kind.name: item_id}, proposed=proposed, version=1,
                                                  author=author_id, created_at=now, updated_at=now)
                                         ).returning(Revision.id)
            return rows[0]["id"]
    except Exception as exc:
        if is_unique_violation(exc):
            raise RevisionRefused("changed_meanwhile") from None
        raise


def _may_act_on(actor, current: dict | None) -> None:
    if current is None:
        raise RevisionRefused("not_found")
    if actor.role not in ("editor", "staff"):
        raise RevisionRefused("not_allowed")
    if actor.outside_area(current["area"]):
        raise RevisionRefused("not_your_area")


async def withdraw(kind: Kind, item_id: int, actor) -> None:
    """The editor takes their change back: the published values stay as they are."""
    table = kind.table
    current = await table.select(table.id, table.area).where(table.id == item_id).first()
    _may_act_on(actor, current)
    deleted = await Revision.delete().where(kind.link == item_id).returning(Revision.id)
    if not deleted:
        raise RevisionRefused("no_revision")


def saved_message(waiting: bool) -> str:
    """What the editor is told after saving a change to a public item: waiting for review, or nothing to review
    because it matches the published version."""
    if waiting:
        return _("Your change was saved and waits for the secretariat's review. "
                 "The public page shows the published version until they approve it.")
    return _("Nothing differs from the published version, so no change waits for review.")


async def discard(kind: Kind, item_id: int) -> None:
    """Inside the transaction that takes an item off the public site: its pending change goes with it."""
    await Revision.delete().where(kind.link == item_id)


# The secretariat: approve or send back ---------------------------------------------------------------------


async def _audit(kind: Kind, actor_id: int, item_id: int, revision: dict, decision: str, fields: list[str],
                 reason: str = "") -> None:
    await AuditLog.insert(
        AuditLog(actor=actor_id, action=f"{kind.name}.revision", target_type=kind.name, target_id=str(item_id),
                 detail={"decision": decision, "revision": revision["id"], "version": revision["version"],
                         "fields": fields, "reason": reason}, created_at=clock.now())
    )


async def _as_shown(kind: Kind, revision_id: int, version: int) -> dict:
    """The revision, if it is still the version the secretariat was shown."""
    revision = await by_id(kind, revision_id)
    if revision is None:
        raise RevisionRefused("not_found")
    if revision["version"] != version:
        raise RevisionRefused("changed_meanwhile")
    return revision


async def approve(kind: Kind, revision_id: int, version: int, actor) -> dict:
    """Write the revision's values to the item, and drop the revision; audited, and the author is told.
    Refused (and nothing written) when the revision changed or was decided meanwhile, when the item is no
    longer public, or when the kind's rule refuses the values (a program's capacity below its seats taken)."""
    if actor.role != "staff":
        raise RevisionRefused("not_allowed")
    table = kind.table
    async with atomic(Revision._meta.db):
        revision = await _as_shown(kind, revision_id, version)
        current = await item(kind, revision["item_id"])
        if current["status"] not in kind.public:
            raise RevisionRefused("not_public")
        values = revision["values"]
        if kind.check:
            kind.check(current, values)
        condition = (table.id == current["id"]) & table.status.is_in(list(kind.public))
        extra = kind.guard(values) if kind.guard else None
        if extra is not None:
            condition &= extra
        # The item row first, then the revision: the order every writer here keeps.
        applied = await table.update(
            {kind.column(name): value for name, value in values.items()} | {table.updated_at: clock.now()}
        ).where(condition).returning(table.id)
        if not applied:
            again = await item(kind, current["id"])
            if again["status"] not in kind.public:
                raise RevisionRefused("not_public")
            if kind.check:
                kind.check(again, values)
            raise RevisionRefused("changed_meanwhile")
        taken = await Revision.delete().where(
            (Revision.id == revision_id) & (Revision.version == version)
        ).returning(Revision.id)
        if not taken:  # replaced or decided after our read: roll the item back with the transaction
            raise RevisionRefused("changed_meanwhile")
        fields = changed_fields(kind, current, values)
        await _audit(kind, actor.account_id, current["id"], revision, "approved", fields)
    title = values.get("title") or current["title"]
    if revision["author"] and revision["author"] != actor.account_id:
        await notices.notify(revision["author"], _("Change published: %(title)s", title=title),
                             _("The secretariat approved your change. The public page now shows it."),
                             url=kind.path(current["id"]))
    return {"id": current["id"], "title": title, "fields": fields}


async def send_back(kind: Kind, revision_id: int, version: int, actor, reason: str) -> dict:
    """Discard the revision with a reason the author reads; the published values stay."""
    if actor.role != "staff":
        raise RevisionRefused("not_allowed")
    reason = reason.strip()[:REASON_MAX]
    if not reason:
        raise RevisionRefused("reason_needed")
    async with atomic(Revision._meta.db):
        revision = await _as_shown(kind, revision_id, version)
        taken = await Revision.delete().where(
            (Revision.id == revision_id) & (Revision.version == version)
        ).returning(Revision.id)
        if not taken:
            raise RevisionRefused("changed_meanwhile")
        current = await item(kind, revision["item_id"])
        fields = changed_fields(kind, current, revision["values"])
        await _audit(kind, actor.account_id, current["id"], revision, "sent_back", fields, reason)
    if revision["author"] and revision["author"] != actor.account_id:
        await notices.notify(revision["author"], _("Change sent back: %(title)s", title=current["title"]), reason)
    return {"id": current["id"], "title": current["title"], "fields": fields}
