"""Visits counted on the server, without a cookie or a third party (seed 004 §4(4)–(5)): views of the public
portal, program pages and articles per month, and arrivals by each campaign per month.

The public pages are answered from the page cache in the front layer (app/middleware.py) at tens of thousands
of requests a second, so a view costs one addition to a dict of this process (`Tally`), keyed by month and
what was seen: its size is bounded by the kinds of page and the campaigns, never by the visitors. A timer
in each process (app/main.py) adds the counts to the tables in batches, one upsert per month and kind or
campaign, and once more when the process stops: a database written per request would cap the cache at the
speed of the database. Counts of a batch the database refused are kept for the next one.

What is not counted: crawlers (by their User-Agent, CrawlerDetect's list), HEAD requests, answers other
than 200, and HTMX fragments (a list loading more is not a new view).

A page counts once per visitor and day, with no cookie: the visitor is their address and User-Agent, hashed
with the day and the page under a key made from the server's secret, so the digest names nobody and cannot be
tested against an address without the secret. Each process remembers today's digests (up to `SEEN_MAX`), and
the batch inserts the new ones into `page_view_seen` (unique per day and digest) in the same transaction that
adds to `page_view`, counting only those the insert took: a visitor served by two processes counts once.
Digests of past days are deleted by the next batch. Campaign arrivals stay requests: a poster scanned twice
was read twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from datetime import date, datetime, timedelta
from functools import lru_cache

from crawlerdetect import CrawlerDetect

from app.i18n import TOKYO
from db.engine import atomic
from db.tables import CampaignVisit, PageView, PageViewSeen

log = logging.getLogger("tsunagu.page_views")

KINDS = ("portal", "program", "article")
FLUSH_EVERY_S = 60
SEEN_MAX = 200_000  # a process's (visitor, page) pairs of one day, ≈ 20 MB at most; past it, a new pair is not counted
SEEN_CHUNK = 500  # digests per INSERT

VIEW_UPSERT = (
    'INSERT INTO "page_view" ("month", "kind", "views") VALUES ({}, {}, {}) '
    'ON CONFLICT ("month", "kind") DO UPDATE SET "views" = "page_view"."views" + excluded."views"'
)
SEEN_INSERT_ROW = "({}, {}, {})"
SEEN_INSERT = 'INSERT INTO "page_view_seen" ("day", "digest", "kind") VALUES {} ON CONFLICT ("day", "digest") DO NOTHING ' \
    'RETURNING "day", "kind"'
SEEN_PURGE = 'DELETE FROM "page_view_seen" WHERE "day" < {}'
VISIT_UPSERT = (
    'INSERT INTO "campaign_visit" ("campaign", "month", "visits") VALUES ({}, {}, {}) '
    'ON CONFLICT ("campaign", "month") DO UPDATE SET "visits" = "campaign_visit"."visits" + excluded."visits"'
)

_detector = CrawlerDetect()


# Browsers send a few hundred distinct User-Agents; the list's patterns cost ≈ 0.4 ms a check, so each is
# checked once per process.
@lru_cache(maxsize=4096)
def is_crawler(user_agent: str) -> bool:
    """A crawler, a link preview or a script by its User-Agent; no User-Agent at all is not a browser either."""
    return not user_agent or _detector.isCrawler(user_agent)


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


class Tally:
    """This process's counts since the last batch: campaign arrivals by (month, campaign id), and the new
    (visitor, page) pairs of the day by (day, digest) → page kind."""

    __slots__ = ("counts", "views", "_secret", "_seen", "_day", "_month", "_from", "_until")

    def __init__(self, secret: str = "") -> None:
        self.counts: dict[tuple[str, int], int] = {}
        self.views: dict[tuple[str, int], str] = {}
        self._secret = hashlib.blake2b(f"page views\n{secret}".encode()).digest()  # a key of the right size
        self._seen: set[int] = set()
        self._day, self._month, self._from, self._until = "", "", 0.0, 0.0

    def _date(self, at_s: float) -> None:
        """The day and month in Japan at Unix time `at_s`, worked out again only when a day ends."""
        if not self._from <= at_s < self._until:
            local = datetime.fromtimestamp(at_s, TOKYO)
            first = local.replace(hour=0, minute=0, second=0, microsecond=0)
            self._day, self._month = first.date().isoformat(), month_key(first)
            self._from, self._until = first.timestamp(), (first + timedelta(days=1)).timestamp()
            self._seen = set()

    def month(self, at_s: float) -> str:
        self._date(at_s)
        return self._month

    def view(self, kind: str, visitor: str, path: str, at_s: float) -> None:
        """A view of `path` (a page of `kind`) by `visitor` (address and User-Agent), once a day."""
        self._date(at_s)
        data = f"{self._day}\n{path}\n{visitor}".encode("utf-8", "replace")
        digest = int.from_bytes(hashlib.blake2b(data, key=self._secret, digest_size=8).digest(), "big") >> 1
        if digest in self._seen or len(self._seen) >= SEEN_MAX:
            return
        self._seen.add(digest)
        self.views[(self._day, digest)] = kind

    def visit(self, campaign_id: int, at_s: float) -> None:
        key = (self.month(at_s), campaign_id)
        self.counts[key] = self.counts.get(key, 0) + 1

    def take(self) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], str]]:
        """The counts and views so far, leaving the tally empty (one step: no await between reading and emptying)."""
        taken = self.counts, self.views
        self.counts, self.views = {}, {}
        return taken

    def give_back(self, counts: dict[tuple[str, int], int], views: dict[tuple[str, int], str]) -> None:
        for key, count in counts.items():
            self.counts[key] = self.counts.get(key, 0) + count
        for key, kind in views.items():
            self.views.setdefault(key, kind)


async def _count_new_views(views: dict[tuple[str, int], str]) -> int:
    """Record the day's pairs not recorded yet (by any process) and add them to the month's views, in one
    transaction: either both or neither. Returns the views added."""
    added: Counter[tuple[str, str]] = Counter()
    pairs = sorted(views.items())
    async with atomic(PageView._meta.db):
        for start in range(0, len(pairs), SEEN_CHUNK):
            chunk = pairs[start:start + SEEN_CHUNK]
            rows = SEEN_INSERT.format(", ".join([SEEN_INSERT_ROW] * len(chunk)))
            values = [value for (day, digest), kind in chunk for value in (day, digest, kind)]
            for row in await PageViewSeen.raw(rows, *values):
                added[(row["day"][:7], row["kind"])] += 1
        for (month, kind), count in sorted(added.items()):
            await PageView.raw(VIEW_UPSERT, month, kind, count)
    return sum(added.values())


async def flush(tally: Tally, today: date | None = None) -> int:
    """Add the tally's views and arrivals to the tables (views once per visitor, page and day; an upsert per
    month and kind or campaign) and forget the digests of days before `today`; returns the rows of arrivals
    written plus the views added. What the database refused goes back into the tally for the next batch."""
    counts, views = tally.take()
    written = 0
    try:
        if views:
            written += await _count_new_views(views)
            views = {}
        for key in sorted(counts, key=str):
            month, campaign_id = key
            await CampaignVisit.raw(VISIT_UPSERT, campaign_id, month, counts[key])
            del counts[key]
            written += 1
    finally:
        tally.give_back(counts, views)
    await PageViewSeen.raw(SEEN_PURGE, (today or datetime.now(TOKYO).date()).isoformat())
    return written


async def flush_forever(tally: Tally, every_s: float = FLUSH_EVERY_S) -> None:
    """The timer of one process: a batch every `every_s` seconds until cancelled."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await flush(tally)
        except Exception:  # the database may be away for a moment: the counts wait in the tally
            log.exception("page views could not be written; kept for the next batch")


async def views_by_month(months: list[str]) -> dict[tuple[str, str], int]:
    """(month, kind) → views, for the months asked."""
    rows = await PageView.select(PageView.month, PageView.kind, PageView.views).where(PageView.month.is_in(months or [""]))
    return {(r["month"], r["kind"]): r["views"] for r in rows}


async def visits_by_campaign(months: list[str] | None = None) -> dict[int, int]:
    """Campaign id → arrivals in the months asked (every month when None)."""
    query = CampaignVisit.select(CampaignVisit.campaign, CampaignVisit.visits)
    if months is not None:
        query = query.where(CampaignVisit.month.is_in(months or [""]))
    totals: dict[int, int] = {}
    for row in await query:
        totals[row["campaign"]] = totals.get(row["campaign"], 0) + row["visits"]
    return totals
