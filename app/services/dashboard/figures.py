"""The KPI dashboard's figures as plain values that compare with ==, the names of the figures, and the
arithmetic they share: percentages rounded half up, and the fiscal year's weeks with their running totals.

`kpi.dashboard()` fills these values; the tables, the charts and the report read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.i18n import lazy_gettext as _l
from app.i18n import to_tokyo
from app.services.campaigns.figures import PortalMonth, SourceRow
from app.services.dashboard.record import YearRecord
from app.services.desk.figures import DeskFigures
from app.services.programs.budgets import AreaBudget
from app.services.subsidy.figures import ClaimFigures
from app.services.wallet import analysis as wallet_analysis
from app.services.wallet.analysis import Period

METRICS = ("registrations", "participants", "activations", "redemptions", "response_rate")
METRIC_LABELS = {
    "registrations": _l("Member registrations"),
    "participants": _l("Program participants"),
    "activations": _l("Entry pass activations"),
    "redemptions": _l("Offer redemptions"),
    "response_rate": _l("Survey response rate (%)"),
}
# Counted week by week from April 1; the rate is a ratio, so it has no cumulative line.
TREND_METRICS = ("registrations", "participants", "activations", "redemptions")
FUNNEL_STEPS = ("first_use", "applied", "attended", "intent", "premium")
FUNNEL_LABELS = {
    "first_use": _l("Used an offer for the first time"),
    "applied": _l("Applied to a program"),
    "attended": _l("Attended a program"),
    "intent": _l("Stated an intent to move"),
    "premium": _l("Premium tier"),
}
# The premium ladder of the year: not a cohort (each step counts its own events in the year).
LADDER_STEPS = ("eligible", "invited", "applied", "approved", "renewed", "lapsed")
LADDER_LABELS = {
    "eligible": _l("Members with three or more local activities in the year"),
    "invited": _l("Invited to apply for premium (journey rule)"),
    "applied": _l("Applied for premium"),
    "approved": _l("Premium granted (first time)"),
    "renewed": _l("Premium renewed"),
    "lapsed": _l("Premium ended without renewal"),
}


def metric_label(key: str) -> str:
    return str(METRIC_LABELS[key])


@dataclass(frozen=True)
class Metric:
    key: str
    actual: int | float | None  # the response rate: a percentage (one decimal), None if nobody was invited
    target: int | None
    percent: float | None  # actual against the target, one decimal (half up); None without a target
    weekly: tuple[int | None, ...]  # cumulative at the end of each week; None for weeks not begun yet


@dataclass(frozen=True)
class Count:
    key: str  # a prefecture code ("" = not given), a tie ("none" = none chosen), an option's label…
    count: int


@dataclass(frozen=True)
class AreaRow:
    area_id: int
    name: str
    programs: int  # programs starting in the year that were published
    participants: int  # attendances
    people: int  # distinct members among them
    target: int | None
    percent: float | None


@dataclass(frozen=True)
class SurveyRow:
    title: str
    opens_on: date
    invitations: int
    responses: int
    rate: float | None


@dataclass(frozen=True)
class IntentOption:
    label: str
    count: int
    intent: bool  # False for a "not considering it" (last) option


@dataclass(frozen=True)
class PushReach:
    members: int
    members_with_device: int
    devices: int
    reach: float | None
    notifications: int  # sent out in the year
    deliveries: int  # to devices, for those notifications
    delivered: int


@dataclass(frozen=True)
class JourneyRow:
    rule: str
    fired: int
    next_rung: int | None  # None: the rule has no next rung to count


@dataclass
class Dashboard:
    fiscal_year: int
    area_id: int | None
    area_name: str
    start: date
    end: date
    as_of: date  # the last day counted: the year's end, or today while it runs
    week_starts: tuple[date, ...]
    metrics: tuple[Metric, ...]
    registrations_by_prefecture: tuple[Count, ...]
    registrations_by_tie: tuple[Count, ...]
    areas: tuple[AreaRow, ...]
    wallet: wallet_analysis.Figures
    surveys: tuple[SurveyRow, ...]
    intent: tuple[IntentOption, ...]
    intent_answered: int  # responses that answered an intent question
    intent_stated: int  # of them, with an intent to move
    push: PushReach
    funnel: tuple[Count, ...]
    premium_ladder: tuple[Count, ...]
    journeys: tuple[JourneyRow, ...]
    desk: DeskFigures
    budgets: tuple[AreaBudget, ...]  # 受入支援 per area: the chosen area's, or every area's
    record: YearRecord  # what the report lists one by one (dashboard/record.py)
    sources: tuple[SourceRow, ...]  # promotion by source (campaigns have no area: always the whole region)
    portal: tuple[PortalMonth, ...]  # the portal's updates and page views per month of the year
    travel_claims: ClaimFigures  # the travel subsidy per area and program: the chosen area's, or every area's

    def metric(self, key: str) -> Metric:
        return next(m for m in self.metrics if m.key == key)


def percent(part: int, whole: int) -> float | None:
    """part / whole in percent, one decimal, rounded half up in integers (no float surprises)."""
    if not whole:
        return None
    return (part * 2000 + whole) // (2 * whole) / 10


def fiscal_period(year: int) -> Period:
    return Period(date(year, 4, 1), date(year + 1, 3, 31))


def week_starts(period: Period) -> tuple[date, ...]:
    """Weeks counted from April 1; the last one is short (a year is 52 weeks and a day or two)."""
    return tuple(period.start + timedelta(days=7 * i) for i in range((period.days + 6) // 7))


def weekly_cumulative(daily: list[int], period: Period, as_of: date) -> tuple[int | None, ...]:
    """The running total at the end of each week (or at `as_of`, in the running week)."""
    totals: list[int | None] = []
    running = 0
    for index, first in enumerate(week_starts(period)):
        running += sum(daily[7 * index: 7 * index + 7])
        totals.append(running if first <= as_of else None)
    return tuple(totals)


def daily_counts(moments: list[datetime], period: Period) -> list[int]:
    counts = [0] * period.days
    for moment in moments:
        counts[(to_tokyo(moment).date() - period.start).days] += 1
    return counts
