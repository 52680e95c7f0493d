"""What the dashboard page, the report and the report's chart files display, from one `view()`: the
figures, their tables by key, and the geometry of every chart, labelled in the current language.
"""

from __future__ import annotations

from datetime import date

from app.i18n import format_date
from app.i18n import gettext as _
from app.services.dashboard.figures import (
    FUNNEL_LABELS,
    LADDER_LABELS,
    TREND_METRICS,
    Dashboard,
    fiscal_period,
    metric_label,
    percent,
)
from app.services.dashboard.filters import fiscal_year_label
from app.services.dashboard.tables import build_tables, month_label, prefecture_label, source_label, tie_label
from app.services.shared import charts
from app.services.shared.charts import Bar
from app.services.wallet import analysis as wallet_analysis
from app.services.wallet.analysis import Period


def month_marks(period: Period) -> list[tuple[str, float]]:
    """(short month name, where the month starts as a share of the year) for a time axis."""
    marks = []
    first = period.start
    while first <= period.end:
        marks.append((format_date(first, "MMM"), (first - period.start).days / period.days))
        first = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return marks


# Every chart, by the key dashboard/_charts.html draws it by (also its file name in the report's ZIP).
CHART_KEYS = ("trend-registrations", "trend-participants", "trend-activations", "trend-redemptions",
              "prefectures", "ties", "areas", "shops", "offers", "weekday-hour", "intent", "funnel", "activities",
              "ladder", "sources", "page-views")
CHART_ROWS = 10  # the longest lists (prefectures, shops, offers) are charted to their top ten; tables have all


def plots(figures: Dashboard) -> dict[str, charts.Chart]:
    """The geometry of every chart by key, labelled in the current language."""
    months = month_marks(fiscal_period(figures.fiscal_year))
    wallet = figures.wallet
    first = figures.funnel[0].count if figures.funnel else 0
    return {
        **{f"trend-{key}": charts.line_chart(figures.metric(key).weekly, figures.metric(key).target, months,
                                             actual_label=_("Actual"), target_label=_("Pace to the target"))
           for key in TREND_METRICS},
        "prefectures": charts.bar_chart([Bar(prefecture_label(c.key), c.count)
                                         for c in figures.registrations_by_prefecture[:CHART_ROWS]]),
        "ties": charts.bar_chart([Bar(tie_label(c.key), c.count) for c in figures.registrations_by_tie], label_width=170),
        "areas": charts.bar_chart([Bar(a.name, a.participants, target=a.target) for a in figures.areas]),
        "shops": charts.bar_chart([Bar(s["name"], s["count"]) for s in wallet.by_shop[:CHART_ROWS]]),
        "offers": charts.bar_chart([Bar(o["title"], o["count"]) for o in wallet.by_offer[:CHART_ROWS]]),
        "weekday-hour": charts.heat_map(wallet.by_weekday_hour, [str(day) for day in wallet_analysis.WEEKDAYS], _("h")),
        "intent": charts.bar_chart([Bar(o.label, o.count, muted=not o.intent) for o in figures.intent]),
        "funnel": charts.funnel([Bar(str(FUNNEL_LABELS[c.key]), c.count, note=_funnel_note(c.count, first))
                                 for c in figures.funnel]),
        "activities": charts.bar_chart([Bar(a.area_name, a.total) for a in figures.record.activities]),
        "ladder": charts.bar_chart([Bar(str(LADDER_LABELS[c.key]), c.count) for c in figures.premium_ladder],
                                   label_width=170),
        # Those who came by themselves are the grey bar: the campaigns are what the chart compares.
        "sources": charts.bar_chart([Bar(source_label(s.source), s.registrations, muted=not s.source)
                                     for s in figures.sources[:CHART_ROWS]], label_width=150),
        "page-views": charts.column_chart(
            [Bar(month_label(m.month, "MMM"), m.total_views) for m in figures.portal],
            width=360, font_size=10, plot_height=120, maximum=max([m.total_views for m in figures.portal] + [1])),
    }


def _funnel_note(count: int, first: int) -> str:
    share = percent(count, first)
    return f"{count:,}" if share is None else f"{count:,} ({share}%)"


def view(figures: Dashboard) -> dict:
    """What the dashboard, the report and the chart files draw from: the figures, their tables by key, and
    each chart's geometry (`plots`, and a progress bar per target)."""
    return {
        "figures": figures,
        "tables": {table.key: table for table in build_tables(figures)},
        "year_label": fiscal_year_label(figures.fiscal_year),
        "metric_label": metric_label,
        "trends": TREND_METRICS,
        "plots": plots(figures),
        "progress_bars": {m.key: charts.progress(m.actual, m.target) for m in figures.metrics},
    }
