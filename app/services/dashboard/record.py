"""The year's record: what the contracts ask the report to list one by one, beside the dashboard's counts.

- every program and online exchange meeting (交流会) held in the year, with its applicants and attendance
  (seed 000 §8(1)(3));
- every article published in the year with its date, interviews included (seed 000 §8(1)(3)(4));
- local activities (担い手活動) by kind and area, program attendance counted as one more kind, as the premium
  ladder counts them (seed 004 §4(3));
- members by tier at the end of the year (seed 004 §4(3));
- the entry pass's changes: shops that joined, offers added and offers whose last day fell in each month
  (seed 004 §4(2)).

An area chosen on the dashboard narrows what has an area (programs, articles, activities); members and the
entry pass stay region-wide, as on the dashboard.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from app.i18n import format_date, to_tokyo
from app.i18n import gettext as _
from app.services.activities.activities import KINDS as ACTIVITY_KINDS
from app.services.articles.articles import kind_label as article_kind
from app.services.membership.membership import effective_tier
from app.services.programs.programs import KIND_LABELS as PROGRAM_KINDS
from app.services.shared import clock
from app.services.wallet.analysis import Table
from db.tables import Application, Article, CheckIn, Member, Offer, Program, Shop

HELD_STATUSES = ("published", "closed", "completed")  # programs that took place or are taking place
PROGRAM_ATTENDANCE = "program"  # the kind an attended program counts as, beside the activity kinds
ACTIVITY_KEYS = (*ACTIVITY_KINDS, PROGRAM_ATTENDANCE)


@dataclass(frozen=True)
class ProgramRow:
    starts_on: date
    area_name: str
    kind: str  # program | event
    title: str
    capacity: int
    applicants: int  # every application but a cancelled one
    attended: int


@dataclass(frozen=True)
class ArticleRow:
    published_on: date
    kind: str  # recruitment | report | interview | news
    title: str
    area_name: str


@dataclass(frozen=True)
class AreaActivities:
    area_name: str
    by_kind: tuple[int, ...]  # in ACTIVITY_KEYS order
    total: int


@dataclass(frozen=True)
class MonthChanges:
    month: date  # its first day
    shops_joined: int
    offers_added: int
    offers_ended: int  # an offer's last day (valid_to) fell in the month


@dataclass(frozen=True)
class YearRecord:
    programs: tuple[ProgramRow, ...]
    articles: tuple[ArticleRow, ...]
    activities: tuple[AreaActivities, ...]
    members: int  # registered by the end of the year and not left since
    premium: int  # of them, holding the premium tier then
    pass_changes: tuple[MonthChanges, ...]
    shops_now: int  # accepting the pass today
    offers_now: int


def _in(column, start: datetime, end: datetime):
    return (column >= start) & (column < end)


async def _programs(start: datetime, end: datetime, area_id: int | None) -> tuple[ProgramRow, ...]:
    query = Program.select(Program.id, Program.starts_at, Program.area.name.as_alias("area_name"), Program.kind,
                           Program.title, Program.capacity).where(
        _in(Program.starts_at, start, end) & Program.status.is_in(list(HELD_STATUSES)))
    if area_id:
        query = query.where(Program.area == area_id)
    programs = await query.order_by(Program.starts_at).order_by(Program.id)
    applications = await Application.select(Application.program, Application.status).where(
        Application.program.is_in([p["id"] for p in programs] or [0]) & (Application.status != "cancelled"))
    applied = Counter(a["program"] for a in applications)
    attended = Counter(a["program"] for a in applications if a["status"] == "attended")
    return tuple(ProgramRow(to_tokyo(p["starts_at"]).date(), p["area_name"], p["kind"], p["title"], p["capacity"],
                            applied[p["id"]], attended[p["id"]]) for p in programs)


async def _articles(start: datetime, end: datetime, area_id: int | None) -> tuple[ArticleRow, ...]:
    query = Article.select(Article.published_at, Article.kind, Article.title, Article.area.name.as_alias("area_name")
                           ).where((Article.status == "published") & _in(Article.published_at, start, end))
    if area_id:
        query = query.where(Article.area == area_id)
    rows = await query.order_by(Article.published_at).order_by(Article.id)
    return tuple(ArticleRow(to_tokyo(a["published_at"]).date(), a["kind"], a["title"], a["area_name"] or "")
                 for a in rows)


async def _activities(start: datetime, end: datetime, area_id: int | None) -> tuple[AreaActivities, ...]:
    """Check-ins by the day they were for, and attended programs by their attendance, per area."""
    check_ins = CheckIn.select(CheckIn.activity.kind.as_alias("kind"), CheckIn.activity.area.name.as_alias("area")
                               ).where((CheckIn.day >= to_tokyo(start).date()) & (CheckIn.day < to_tokyo(end).date()))
    attended = Application.select(Application.program.area.name.as_alias("area")).where(
        (Application.status == "attended") & _in(Application.attended_at, start, end))
    if area_id:
        check_ins = check_ins.where(CheckIn.activity.area == area_id)
        attended = attended.where(Application.program.area == area_id)
    counts = Counter((r["area"], r["kind"]) for r in await check_ins)
    counts.update((r["area"], PROGRAM_ATTENDANCE) for r in await attended)
    rows = []
    for area in sorted({area for area, _kind in counts}):
        by_kind = tuple(counts[(area, kind)] for kind in ACTIVITY_KEYS)
        rows.append(AreaActivities(area, by_kind, sum(by_kind)))
    return tuple(rows)


async def _members(end: datetime, as_of: date) -> tuple[int, int]:
    rows = await Member.select(Member.tier, Member.premium_until).where(
        (Member.created_at < end) & (Member.account.status != "deleted"))
    return len(rows), sum(effective_tier(m, as_of) == "premium" for m in rows)


def _month_of(day: date) -> date:
    return day.replace(day=1)


async def _pass_changes(start: datetime, end: datetime) -> tuple[MonthChanges, ...]:
    shops = Counter(_month_of(to_tokyo(r["created_at"]).date())
                    for r in await Shop.select(Shop.created_at).where(_in(Shop.created_at, start, end)))
    added = Counter(_month_of(to_tokyo(r["created_at"]).date())
                    for r in await Offer.select(Offer.created_at).where(_in(Offer.created_at, start, end)))
    first, last = to_tokyo(start).date(), to_tokyo(end).date()
    ended = Counter(_month_of(r["valid_to"]) for r in await Offer.select(Offer.valid_to).where(
        (Offer.valid_to >= first) & (Offer.valid_to < last)))
    return tuple(MonthChanges(month, shops[month], added[month], ended[month]) for month in clock.year_months(first))


async def year_record(start: datetime, end: datetime, as_of: date, area_id: int | None) -> YearRecord:
    """`start` and `end` bound the fiscal year (end excluded); `as_of` is its last day counted."""
    members, premium = await _members(end, as_of)
    return YearRecord(
        programs=await _programs(start, end, area_id),
        articles=await _articles(start, end, area_id),
        activities=await _activities(start, end, area_id),
        members=members,
        premium=premium,
        pass_changes=await _pass_changes(start, end),
        shops_now=await Shop.count().where(Shop.active == True),  # noqa: E712
        offers_now=await Offer.count().where((Offer.active == True) & (Offer.shop.active == True)),  # noqa: E712
    )



RECORD_TABLE_KEYS = ("members_by_tier", "activities_by_area", "pass_changes", "programs_held", "articles_published")


def build_table(record: YearRecord, key: str) -> Table:
    """One of the record's tables in the current language, for the page, the report and its CSV."""
    if key == "members_by_tier":
        return Table(key, _("Members at the end of the year"), [_("Tier"), _("Number of members")], [
            [_("Basic"), record.members - record.premium], [_("Premium"), record.premium], [_("Total"), record.members],
        ])
    if key == "activities_by_area":
        kinds = [str(ACTIVITY_KINDS[k]) for k in ACTIVITY_KINDS] + [_("Program attended")]
        return Table(key, _("Local activities by kind and area"), [_("Area"), *kinds, _("Total")],
                     [[a.area_name, *a.by_kind, a.total] for a in record.activities])
    if key == "pass_changes":
        headers = [_("Month"), _("Shops that joined"), _("Offers added"), _("Offers that ended")]
        return Table(key, _("Changes to shops and offers"), headers, [
            [format_date(m.month, "yyyy/MM"), m.shops_joined, m.offers_added, m.offers_ended]
            for m in record.pass_changes
        ])
    if key == "programs_held":
        headers = [_("Date"), _("Area"), _("Kind"), _("Title"), _("Capacity"), _("Applications"), _("Attended")]
        return Table(key, _("Programs and exchange meetings of the year"), headers, [
            [p.starts_on.isoformat(), p.area_name, str(PROGRAM_KINDS[p.kind]), p.title, p.capacity, p.applicants,
             p.attended] for p in record.programs
        ])
    if key == "articles_published":
        return Table(key, _("Articles published"), [_("Published on"), _("Kind"), _("Title"), _("Area")], [
            [a.published_on.isoformat(), article_kind(a.kind), a.title, a.area_name] for a in record.articles
        ])
    raise KeyError(key)
