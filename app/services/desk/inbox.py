"""Lists of inquiries: the staff inbox with its filters, how long each has waited and whether the asker wrote
again, the counts per status, the rows of the CSV export, and a member's own inquiries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from piccolo.query import Count as CountQuery
from piccolo.query.functions.aggregate import Count

from app.services.desk.common import CATEGORY_LABELS, OPEN_STATUSES, STATUSES
from app.services.shared import clock
from app.services.shared.text import contains_pattern
from db.tables import Inquiry, InquiryMessage

# Open inquiries waiting on the desk this long stand out in the inbox.
AMBER_AFTER, RED_AFTER = timedelta(days=3), timedelta(days=7)
INBOX_LIMIT = 200
IN_CHUNK = 500  # ids per IN (...) in the export, well under either database's limit on parameters


@dataclass
class InboxFilter:
    status: str = "open"  # open | all | one of STATUSES
    category: str = ""
    assignee: str = ""  # "" anyone | mine | unassigned | an account id
    q: str = ""
    sort: str = "oldest"  # oldest | newest | activity

    def cleaned(self) -> "InboxFilter":
        """Anything unknown falls back to its default: a filter never fails, it just shows more."""
        return InboxFilter(
            status=self.status if self.status in ("open", "all", *STATUSES) else "open",
            category=self.category if self.category in CATEGORY_LABELS else "",
            assignee=self.assignee if self.assignee in ("mine", "unassigned") or
            (self.assignee.isdecimal() and len(self.assignee) <= 9) else "",
            q=self.q.strip()[:100],
            sort=self.sort if self.sort in ("oldest", "newest", "activity") else "oldest",
        )


def _filtered(query, filters: InboxFilter, me: int):
    if filters.status == "open":
        query = query.where(Inquiry.status.is_in(list(OPEN_STATUSES)))
    elif filters.status != "all":
        query = query.where(Inquiry.status == filters.status)
    if filters.category:
        query = query.where(Inquiry.category == filters.category)
    if filters.assignee == "mine":
        query = query.where(Inquiry.assignee == me)
    elif filters.assignee == "unassigned":
        query = query.where(Inquiry.assignee.is_null())
    elif filters.assignee:
        query = query.where(Inquiry.assignee == int(filters.assignee))
    if filters.q:
        like = contains_pattern(filters.q)
        in_messages = InquiryMessage.select(InquiryMessage.inquiry).where(InquiryMessage.body.ilike(like))
        query = query.where(
            Inquiry.reference.ilike(like) | Inquiry.name.ilike(like) | Inquiry.email.ilike(like)
            | Inquiry.phone.ilike(like) | Inquiry.id.is_in(in_messages)
        )
    order = {"oldest": (Inquiry.created_at, True), "newest": (Inquiry.created_at, False),
             "activity": (Inquiry.last_message_at, False)}[filters.sort]
    return query.order_by(order[0], ascending=order[1]).order_by(Inquiry.id, ascending=order[1])


async def _asker_wrote_again(inquiry_ids: list[int]) -> set[int]:
    """Inquiries the desk has answered whose asker wrote after the latest answer: unread for the desk."""
    if not inquiry_ids:
        return set()
    rows = await InquiryMessage.select(InquiryMessage.inquiry, InquiryMessage.kind).where(
        InquiryMessage.inquiry.is_in(inquiry_ids) & InquiryMessage.kind.is_in(["asker", "reply"])
    ).order_by(InquiryMessage.created_at).order_by(InquiryMessage.id)
    answered: set[int] = set()
    last: dict[int, str] = {}
    for row in rows:
        last[row["inquiry"]] = row["kind"]
        if row["kind"] == "reply":
            answered.add(row["inquiry"])
    return {inquiry_id for inquiry_id in answered if last[inquiry_id] == "asker"}


def age_level(inquiry: dict, now: datetime) -> str:
    """"red" after a week, "amber" after three days, while the next step is the desk's (new or in progress;
    an asker's new message moves a waiting inquiry back to in progress)."""
    if inquiry["status"] not in ("new", "in_progress"):
        return ""
    age = now - inquiry["created_at"]
    return "red" if age > RED_AFTER else "amber" if age > AMBER_AFTER else ""


async def inbox(filters: InboxFilter, me: int, now: datetime | None = None, limit: int = INBOX_LIMIT,
                offset: int = 0) -> list[dict]:
    now = now or clock.now()
    query = Inquiry.select(
        Inquiry.id, Inquiry.reference, Inquiry.name, Inquiry.category, Inquiry.status, Inquiry.channel,
        Inquiry.account, Inquiry.assignee, Inquiry.created_at, Inquiry.last_message_at,
        Inquiry.assignee.display_name.as_alias("assignee_name"),
    )
    rows = await _filtered(query, filters.cleaned(), me).limit(limit).offset(offset)
    wrote_again = await _asker_wrote_again([r["id"] for r in rows if r["status"] != "closed"])
    out = []
    for row in rows:
        row = {**row, "asker_wrote_again": row["id"] in wrote_again}
        row["age_level"] = age_level(row, now)
        row["age_days"] = (now - row["created_at"]).days
        out.append(row)
    return out


async def status_counts() -> dict[str, int]:
    """How many inquiries are in each status (for the inbox's tabs and the secretariat's home)."""
    rows = await Inquiry.select(Inquiry.status, Count()).group_by(Inquiry.status)
    counts = dict.fromkeys(STATUSES, 0)
    for row in rows:
        counts[row["status"]] = row["count"]
    counts["open"] = sum(counts[s] for s in OPEN_STATUSES)
    return counts


def new_count() -> CountQuery:
    """Inquiries nobody has opened yet (a query: awaited, the number; attention.counts sends it with the console's
    other counts as one statement)."""
    return Inquiry.count().where(Inquiry.status == "new")


async def export_rows(filters: InboxFilter, me: int) -> list[dict]:
    """Every inquiry the filters choose, with contact details and the first message, for the CSV."""
    query = Inquiry.select(*Inquiry.all_columns(), Inquiry.assignee.display_name.as_alias("assignee_name"))
    rows = await _filtered(query, filters.cleaned(), me)
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    firsts: dict[int, str] = {}
    counts: dict[int, int] = {}
    for start in range(0, len(ids), IN_CHUNK):
        messages = await InquiryMessage.select(InquiryMessage.inquiry, InquiryMessage.body).where(
            InquiryMessage.inquiry.is_in(ids[start:start + IN_CHUNK]) & (InquiryMessage.kind != "note")
        ).order_by(InquiryMessage.created_at).order_by(InquiryMessage.id)
        for message in messages:
            firsts.setdefault(message["inquiry"], message["body"])
            counts[message["inquiry"]] = counts.get(message["inquiry"], 0) + 1
    return [{**row, "first_message": firsts.get(row["id"], ""), "messages": counts.get(row["id"], 0)} for row in rows]


async def inquiries_of_member(account_id: int) -> list[dict]:
    """A member's own inquiries, latest activity first, marked when the desk's answer is the newest message."""
    rows = await Inquiry.select(
        Inquiry.id, Inquiry.reference, Inquiry.category, Inquiry.status, Inquiry.created_at, Inquiry.last_message_at,
    ).where(Inquiry.account == account_id).order_by(Inquiry.last_message_at, ascending=False)
    ids = [r["id"] for r in rows]
    wrote_again = await _asker_wrote_again(ids)
    replied = {r["inquiry"] for r in await InquiryMessage.select(InquiryMessage.inquiry).where(
        InquiryMessage.inquiry.is_in(ids) & (InquiryMessage.kind == "reply"))} if rows else set()
    return [{**r, "answered": r["id"] in replied and r["id"] not in wrote_again} for r in rows]
