"""The year's figures of promotion (seed 004 §4(4)) and of the portal (seed 004 §4(5)) for the dashboard and the
yearly report.

By source: campaigns that share a source name are one source. Each step counts what happened in the fiscal year
and was attributed to the source: arrivals by its links, registrations, pass activations, program applications;
premium counts the source's members (registered by the year's end) who hold the tier at the end of the year (today,
while it runs). The people who came by themselves are a row of their own, without arrivals to count.

The portal: per month of the year, the articles and programs published, the staff's changes to the portal (the
audit log's portal.* entries) and the page views counted on the server (page_views).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from app.i18n import to_tokyo
from app.services.campaigns.page_views import KINDS, month_key, views_by_month, visits_by_campaign
from app.services.membership.membership import effective_tier
from db.tables import Application, Article, AuditLog, Campaign, Member, Program, WalletPass

DIRECT = ""  # the source of rows without a campaign
STEPS = ("visits", "registrations", "activations", "applications", "premium")


@dataclass(frozen=True)
class SourceRow:
    source: str  # DIRECT for those who came by themselves
    kinds: tuple[str, ...]  # of its campaigns
    campaigns: int
    visits: int | None  # None for DIRECT: arrivals without a campaign are not told apart
    registrations: int
    activations: int
    applications: int
    premium: int


@dataclass(frozen=True)
class PortalMonth:
    month: date  # its first day
    articles: int  # published in the month
    programs: int
    portal_edits: int
    views: tuple[int, ...]  # per page kind, in page_views.KINDS order

    @property
    def total_views(self) -> int:
        return sum(self.views)


def _per_campaign(rows: list[dict]) -> Counter:
    return Counter(r["campaign"] for r in rows)


def _between(column, start: datetime | None, end: datetime | None):
    return (column >= start) & (column < end) if start is not None and end is not None else column.is_not_null()


async def attributed(start: datetime | None, end: datetime | None, as_of: date) -> dict[str, Counter]:
    """Step → campaign id (None: came by themselves) → count, for what happened between `start` and `end` (ever,
    without them); premium counts members registered by `end` who hold the tier on `as_of`."""
    registered = await Member.select(Member.campaign).where(_between(Member.created_at, start, end))
    activated = await WalletPass.select(WalletPass.campaign).where(_between(WalletPass.activated_at, start, end))
    applied = await Application.select(Application.campaign).where(_between(Application.created_at, start, end))
    holding = await Member.select(Member.campaign, Member.tier, Member.premium_until).where(
        (Member.tier == "premium") & (Member.created_at < end if end is not None else Member.created_at.is_not_null()))
    return {"registrations": _per_campaign(registered), "activations": _per_campaign(activated),
            "applications": _per_campaign(applied),
            "premium": Counter(m["campaign"] for m in holding if effective_tier(m, as_of) == "premium")}


async def by_source(start: datetime, end: datetime, months: list[date], as_of: date) -> tuple[SourceRow, ...]:
    """Every source with a campaign (the most registrations first), then those who came by themselves."""
    campaigns = await Campaign.select(Campaign.id, Campaign.source, Campaign.kind).order_by(Campaign.id)
    visits = await visits_by_campaign([month_key(m) for m in months])
    counts = await attributed(start, end, as_of)
    sources: dict[str, list[dict]] = {}
    for campaign in campaigns:
        sources.setdefault(campaign["source"], []).append(campaign)
    rows = []
    for source, members in sources.items():
        ids = [c["id"] for c in members]
        totals = {step: sum(counter[i] for i in ids) for step, counter in counts.items()}
        rows.append(SourceRow(source, tuple(sorted({c["kind"] for c in members})), len(ids),
                              sum(visits.get(i, 0) for i in ids), **totals))
    rows.sort(key=lambda r: (-r.registrations, -(r.visits or 0), r.source))
    direct = SourceRow(DIRECT, (), 0, None, **{step: counter[None] for step, counter in counts.items()})
    return (*rows, direct)


def _monthly(moments: list[datetime]) -> Counter:
    return Counter(to_tokyo(moment).date().replace(day=1) for moment in moments if moment is not None)


async def portal_months(start: datetime, end: datetime, months: list[date]) -> tuple[PortalMonth, ...]:
    articles = _monthly([r["published_at"] for r in await Article.select(Article.published_at).where(
        (Article.status == "published") & (Article.published_at >= start) & (Article.published_at < end))])
    programs = _monthly([r["published_at"] for r in await Program.select(Program.published_at).where(
        (Program.published_at >= start) & (Program.published_at < end))])
    edits = _monthly([r["created_at"] for r in await AuditLog.select(AuditLog.created_at).where(
        AuditLog.action.like("portal.%") & (AuditLog.created_at >= start) & (AuditLog.created_at < end))])
    views = await views_by_month([month_key(m) for m in months])
    return tuple(PortalMonth(m, articles[m], programs[m], edits[m], tuple(views.get((month_key(m), k), 0) for k in KINDS))
                 for m in months)
