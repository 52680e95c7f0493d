"""Push notifications: who one is for (its `Target`), writing it, its fan-out, and the staff's view of it.

A notification becomes one `Notice` per person (the in-app inbox, so nothing is lost without push), one
`Delivery` per device and one `LineDelivery` per linked LINE account of those who want its topic (the
topics chosen under Notifications hold for both); push_delivery and line_delivery send them. The fan-out is a
few statements per notification, never one per person or device.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import NamedTuple

from piccolo.columns import Column
from piccolo.columns.combination import WhereRaw

from app.i18n import current_locale, in_locale
from app.i18n import gettext as _
from app.services.membership.membership import chosen_locale
from app.services.notify import digest
from app.services.notify.push_subscriptions import Preferences, PushRefused
from app.services.shared import clock
from db.engine import atomic
from db.tables import (
    Account,
    AreaFollow,
    Delivery,
    LineDelivery,
    LineLink,
    Member,
    Notice,
    Notification,
    Program,
    PushPreference,
    PushSubscription,
)

TOPICS = ("programs", "events", "surveys", "news")
MAX_PAYLOAD_BYTES = 3000  # push services accept about 4 KB after encryption; stay well under
TITLE_MAX = 120


@dataclass
class Target:
    """Who a notification is for. Empty filters mean everyone; filters narrow, they never widen."""

    topic: str = "news"
    area_ids: list[int] = field(default_factory=list)  # members following any of these areas
    tiers: list[str] = field(default_factory=list)
    prefectures: list[str] = field(default_factory=list)
    account_ids: list[int] | None = None  # an explicit list (survey targets, a test to oneself)

    def to_json(self) -> dict:
        return {"topic": self.topic, "areas": self.area_ids, "tiers": self.tiers, "prefectures": self.prefectures,
                "accounts": self.account_ids}


def _wants(prefs: Preferences, topic: str, follows_area: bool) -> bool:
    """Whether a person wants a push on this topic (the inbox gets everything addressed to them)."""
    if topic == "programs":
        return prefs.programs == "all" or (prefs.programs == "followed" and follows_area)
    return {"events": prefs.events, "surveys": prefs.surveys, "news": prefs.news}.get(topic, True)


def among(column: Column, ids: list[int]) -> WhereRaw:
    """`column IN ids` with the ids as one parameter: a JSON array on SQLite, an integer[] on PostgreSQL.
    One parameter per id would pass asyncpg's limit of 32,767 with a large audience, and Piccolo's
    `is_in` converts every value in Python, a cost the sender pays on every batch."""
    name = column._meta.get_full_name(with_alias=False)
    if column._meta.table._meta.db.engine_type == "sqlite":
        return WhereRaw(f"{name} IN (SELECT value FROM json_each({{}}))", json.dumps(ids))
    return WhereRaw(f"{name} = ANY({{}}::integer[])", ids)


async def recipients(target: Target) -> list[int]:
    """Accounts the notification is addressed to (active members matching every filter)."""

    def members_query():
        query = Member.select(Member.id, Member.account.id.as_alias("account")).where(Member.account.status == "active")
        if target.tiers:
            query = query.where(Member.tier.is_in(target.tiers))
        if target.prefectures:
            query = query.where(Member.home_prefecture.is_in(target.prefectures))
        return query

    staff: list[int] = []
    if target.account_ids is None:
        members = await members_query()
    else:
        named = sorted(set(target.account_ids))
        members = await members_query().where(among(Member.account, named))
        # Named accounts may be staff (a new inquiry for the desk): they have no member profile to filter.
        if not (target.tiers or target.prefectures or target.area_ids):
            staff = [row["id"] for row in await Account.select(Account.id).where(
                among(Account.id, named) & (Account.role != "member") & (Account.status == "active"))]
    if target.area_ids:
        following = {row["member"] for row in await AreaFollow.select(AreaFollow.member).where(
            AreaFollow.area.is_in(target.area_ids))}
        # New programs also reach those who chose "all programs", followers or not.
        if target.topic == "programs":
            everything = {row["account"] for row in await PushPreference.select(PushPreference.account).where(
                PushPreference.programs == "all")}
            members = [m for m in members if m["id"] in following or m["account"] in everything]
        else:
            members = [m for m in members if m["id"] in following]
    return [m["account"] for m in members] + staff


class Reach(NamedTuple):
    people: int
    devices: int  # by push
    line: int  # linked LINE accounts
    mail: int  # members who get the weekly mail (notify/digest.py), which carries it if still unread


async def reach(target: Target) -> Reach:
    """Whom a notification would reach, and by which channel: the composer's preview."""
    people = await recipients(target)
    wanting = await _wanting(target, people)
    return Reach(len(people), len(await _push_devices(wanting)), len(await _line_links(target, wanting)),
                 len(await digest.readers(people)))


async def _wanting(target: Target, people: list[int]) -> list[int]:
    """Those of `people` who want this notification's topic on their phone (push or LINE)."""
    if not people:
        return []
    prefs = {row["account"]: Preferences(row["programs"], row["events"], row["surveys"], row["news"])
             for row in await PushPreference.select().where(among(PushPreference.account, people))}
    following: set[int] = set()
    if target.area_ids:
        rows = await AreaFollow.select(AreaFollow.member.account.as_alias("account")).where(
            AreaFollow.area.is_in(target.area_ids))
        following = {row["account"] for row in rows}
    return [a for a in people if target.topic == "test" or _wants(prefs.get(a, Preferences()), target.topic,
                                                                 not target.area_ids or a in following)]


async def _push_devices(wanting: list[int]) -> list[int]:
    if not wanting:
        return []
    rows = await PushSubscription.select(PushSubscription.id).where(among(PushSubscription.account, wanting))
    return [row["id"] for row in rows]


async def _line_links(target: Target, wanting: list[int]) -> list[int]:
    """Active LINE links of those who want it; a test a member sends themselves is for this device's push."""
    if not wanting or target.topic == "test":
        return []
    rows = await LineLink.select(LineLink.id).where(among(LineLink.account, wanting) & (LineLink.status == "linked"))
    return [row["id"] for row in rows]



async def announce_program(program_id: int, created_by: int | None, locale: str) -> bool:
    """Tell the members following the program's area (and those who want every program) that it is out, each in
    their own language (the site's, `locale`, for those who never chose one; not the approver's).

    Called once a program is approved. Once per program: a program published again after an edit is not
    announced twice. True if queued.
    """
    from app.services.programs import programs  # programs tell members through notify; this is the one way back

    program = await Program.select(Program.id, Program.kind, Program.title, Program.summary, Program.area,
                                   Program.status).where(Program.id == program_id).first()
    if program is None or program["status"] != "published":
        return False
    url = programs.program_path(program_id)
    topic = "events" if program["kind"] == "event" else "programs"
    if await Notification.exists().where((Notification.url == url) & Notification.topic.is_in(["programs", "events"])):
        return False

    async def write() -> tuple[str, str]:
        title = _("New program: %(title)s", title=program["title"])
        if len(title) > TITLE_MAX:  # a notification title holds less than a program title and its prefix
            cut = program["title"][: len(program["title"]) - (len(title) - TITLE_MAX) - 1] + "…"
            title = _("New program: %(title)s", title=cut)
        return title, program["summary"]

    target = Target(topic=topic, area_ids=[program["area"]])
    # All languages or none, so that a failure halfway is not taken for "announced". Nobody to tell yet still
    # leaves the one notification that marks the program as announced.
    async with atomic(Notification._meta.db):
        with in_locale(locale):
            await notify_in_each_language(target, await recipients(target), write, url, created_by, keep_empty=True)
    return True


async def languages_of(account_ids: list[int]) -> dict[str, list[int]]:
    """The accounts by the language to write to each in (`chosen_locale`), in the order of the languages."""
    groups: dict[str, list[int]] = {}
    if account_ids:
        rows = await Account.select(Account.id, Account.locale).where(among(Account.id, sorted(set(account_ids))))
        for row in sorted(rows, key=lambda row: row["id"]):
            groups.setdefault(chosen_locale(row["locale"]), []).append(row["id"])
    return dict(sorted(groups.items()))


async def notify_in_each_language(target: Target, account_ids: list[int], write: Callable[[], Awaitable[tuple[str, str]]],
                                  url: str, created_by: int | None, send_at: datetime | None = None,
                                  keep_empty: bool = False) -> list[int]:
    """One notification to `account_ids` (narrowed further by `target`'s filters) per language they chose, so each
    reads it in theirs: `write()` gives the title and body in the language in effect. With nobody to tell, one
    in the language in effect when `keep_empty`, none otherwise. The ids of the notifications."""
    groups = await languages_of(account_ids) or ({current_locale.get(): []} if keep_empty else {})
    made = []
    for locale, group in groups.items():
        with in_locale(locale):
            title, body = await write()
        made.append(await create_notification(replace(target, account_ids=group), title, body, url, created_by, send_at))
    return made


async def create_notification(target: Target, title: str, body: str, url: str, created_by: int | None,
                              send_at: datetime | None = None) -> int:
    payload = json.dumps({"title": title, "body": body, "url": url, "id": 0}, ensure_ascii=False).encode()
    if not title.strip() or len(title) > TITLE_MAX or len(body) > 500 or len(url) > 500 or len(payload) > MAX_PAYLOAD_BYTES:
        raise PushRefused("too_long" if title.strip() else "title_missing")
    now = clock.now()
    rows = await Notification.insert(
        Notification(topic=target.topic, title=title.strip(), body=body.strip(), url=url, target=target.to_json(),
                     created_by=created_by, created_at=now, send_at=send_at or now)
    ).returning(Notification.id)
    return rows[0]["id"]


async def fan_out_due(now: datetime | None = None) -> int:
    """Turn notifications whose time has come into inbox notices and queued deliveries. Idempotent:
    the status flips once (conditional UPDATE) and deliveries are unique per device."""
    now = now or clock.now()
    due = await Notification.select().where(
        (Notification.status == "scheduled") & (Notification.send_at <= now)
    ).output(load_json=True)
    done = 0
    for notification in due:
        raw = notification["target"]
        target = Target(topic=notification["topic"], area_ids=raw.get("areas") or [], tiers=raw.get("tiers") or [],
                        prefectures=raw.get("prefectures") or [], account_ids=raw.get("accounts"))
        people = await recipients(target)
        wanting = await _wanting(target, people)
        devices, links = await _push_devices(wanting), await _line_links(target, wanting)
        async with atomic(Notification._meta.db):
            claimed = await Notification.update(
                {Notification.status: "fanned_out", Notification.recipients: len(people)}
            ).where((Notification.id == notification["id"]) & (Notification.status == "scheduled")).returning(Notification.id)
            if not claimed:
                continue  # another process got there first
            await _insert_each(Notice.account, people, {
                Notice.title: notification["title"], Notice.body: notification["body"], Notice.url: notification["url"],
                Notice.created_at: now})
            await _insert_each(Delivery.subscription, devices, {
                Delivery.notification: notification["id"], Delivery.status: "queued", Delivery.attempts: 0,
                Delivery.next_attempt_at: now, Delivery.last_error: ""})
            await _insert_each(LineDelivery.line_link, links, {
                LineDelivery.notification: notification["id"], LineDelivery.status: "queued", LineDelivery.attempts: 0,
                LineDelivery.next_attempt_at: now, LineDelivery.last_error: ""})
        done += 1
    return done


async def _insert_each(column: Column, ids: list[int], same: dict[Column, object]) -> None:
    """One row per id in `column`, every other value the same: one INSERT … SELECT with the ids as a single
    parameter (a JSON array on SQLite, an integer[] on PostgreSQL). Building one Piccolo object per row
    cost ≈ 2 s per 10,000 deliveries, and one parameter per value would pass asyncpg's 32,767 limit."""
    if not ids:
        return
    table = column._meta.table
    names = ", ".join(c._meta.db_column_name for c in (column, *same))
    if table._meta.db.engine_type == "sqlite":
        sql = f"SELECT value, {', '.join('{}' for _ in same)} FROM json_each({{}})"
        args = [*same.values(), json.dumps(ids)]
    else:  # PostgreSQL infers no types in a SELECT list: cast each parameter to its column's type
        sql = f"SELECT unnest({{}}::integer[]), {', '.join(f'{{}}::{c.column_type}' for c in same)}"
        args = [ids, *same.values()]
    await table.raw(f"INSERT INTO {table._meta.tablename} ({names}) {sql}", *args)


async def recent_notifications(limit: int) -> list[dict]:
    """The newest notifications (tests sent by members, and decisions told to one person, left out), each with
    its delivery `counts` and how many deliveries are still `waiting` (queued or being sent)."""
    rows = await Notification.select(
        Notification.id, Notification.topic, Notification.title, Notification.url, Notification.created_at,
        Notification.send_at, Notification.status, Notification.recipients,
        Notification.created_by.display_name.as_alias("author"),
    ).where(Notification.topic.not_in(["test", "personal"])).order_by(Notification.id, ascending=False).limit(limit)
    notifications = []
    for row in rows:
        counts = await notification_stats(row["id"])
        waiting = ("queued", "sending", "pushing", "line_queued", "line_sending")
        notifications.append({**row, "counts": counts, "waiting": sum(counts[status] for status in waiting)})
    return notifications


async def notification_stats(notification_id: int) -> dict[str, int]:
    """How its deliveries stand: push's by status ("sent"…), LINE's beside them ("line_sent"…)."""
    counts = {status: 0 for status in ("queued", "sending", "pushing", "sent", "failed", "expired")}
    counts |= {f"line_{status}": 0 for status in ("queued", "sending", "sent", "failed", "skipped")}
    for row in await Delivery.select(Delivery.status).where(Delivery.notification == notification_id):
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    for row in await LineDelivery.select(LineDelivery.status).where(LineDelivery.notification == notification_id):
        counts[f"line_{row['status']}"] = counts.get(f"line_{row['status']}", 0) + 1
    return counts
