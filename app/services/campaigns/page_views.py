"""Visits counted on the server, without a cookie or a third party (seed 004 §4(4)–(5)): views of the public
portal, program pages and articles per month, and arrivals by each campaign per month.

The public pages are answered from the page cache in the front layer (app/middleware.py) at tens of thousands
of requests a second, so a view costs one addition to a dict of this process (`Tally`), keyed by month and
what was seen: its size is bounded by the kinds of page and the campaigns, never by the visitors. A timer
in each process (app/main.py) adds the counts to the tables in batches, one upsert per month and kind or
campaign, and once more when the process stops: a database written per request would cap the cache at the
speed of the database. Counts of a batch the database refused are kept for the next one.

What is not counted: crawlers (by their User-Agent, CrawlerDetect's list), HEAD requests, answers other
than 200, and HTMX fragments (a list loading more is not a new view). Views are requests, not people: telling
people apart without a cookie would need to keep something about each of them.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime
from functools import lru_cache

from crawlerdetect import CrawlerDetect

from app.i18n import TOKYO
from db.tables import CampaignVisit, PageView

log = logging.getLogger("tsunagu.page_views")

KINDS = ("portal", "program", "article")
FLUSH_EVERY_S = 60

VIEW_UPSERT = (
    'INSERT INTO "page_view" ("month", "kind", "views") VALUES ({}, {}, {}) '
    'ON CONFLICT ("month", "kind") DO UPDATE SET "views" = "page_view"."views" + excluded."views"'
)
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
    """This process's counts since the last batch: (month, page kind or campaign id) → count."""

    __slots__ = ("counts", "_month", "_from", "_until")

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str | int], int] = {}
        self._month, self._from, self._until = "", 0.0, 0.0

    def month(self, at_s: float) -> str:
        """The month in Japan at Unix time `at_s`, worked out again only when a month ends."""
        if not self._from <= at_s < self._until:
            local = datetime.fromtimestamp(at_s, TOKYO)
            first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            following = first.replace(year=first.year + first.month // 12, month=first.month % 12 + 1)
            self._month, self._from, self._until = month_key(first), first.timestamp(), following.timestamp()
        return self._month

    def view(self, kind: str, at_s: float) -> None:
        key = (self.month(at_s), kind)
        self.counts[key] = self.counts.get(key, 0) + 1

    def visit(self, campaign_id: int, at_s: float) -> None:
        key = (self.month(at_s), campaign_id)
        self.counts[key] = self.counts.get(key, 0) + 1

    def take(self) -> dict[tuple[str, str | int], int]:
        """The counts so far, leaving the tally empty (one step: no await between reading and emptying)."""
        taken, self.counts = self.counts, {}
        return taken

    def give_back(self, counts: dict[tuple[str, str | int], int]) -> None:
        for key, count in counts.items():
            self.counts[key] = self.counts.get(key, 0) + count


async def flush(tally: Tally) -> int:
    """Add the tally's counts to the tables, one upsert per month and kind or campaign; returns the rows
    written. What the database refused goes back into the tally for the next batch."""
    pending = tally.take()
    written = 0
    try:
        for key in sorted(pending, key=str):
            month, what = key
            if isinstance(what, int):
                await CampaignVisit.raw(VISIT_UPSERT, what, month, pending[key])
            else:
                await PageView.raw(VIEW_UPSERT, month, what, pending[key])
            del pending[key]
            written += 1
    finally:
        tally.give_back(pending)
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
