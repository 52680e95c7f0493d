"""The KPI dashboard's figures as tables, in the current language: the page shows them, the report's ZIP
holds them, and each downloads as a CSV file with Japanese headers (every export is audited). The entry
pass tables are `wallet_analysis`'s own.
"""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_skeleton

from app.i18n import babel_locale, current_locale
from app.i18n import gettext as _
from app.services.campaigns.campaigns import kind_label
from app.services.dashboard import record
from app.services.dashboard.figures import (
    FUNNEL_LABELS,
    LADDER_LABELS,
    TREND_METRICS,
    Dashboard,
    metric_label,
    percent,
)
from app.services.dashboard.filters import Selection
from app.services.dashboard.kpi import dashboard
from app.services.dashboard.record import RECORD_TABLE_KEYS
from app.services.desk.common import category_label, channel_label, status_label
from app.services.journeys import rules as journey_rules
from app.services.shared import exports
from app.services.shared.reference import TIES, prefecture_name
from app.services.wallet import analysis as wallet_analysis
from app.services.wallet.analysis import Table

OWN_TABLES = ("targets", "weekly", "registrations_by_prefecture", "registrations_by_tie", "participants_by_area",
              "budgets", "travel_claims", "travel_claims_by_program")
SURVEY_TABLES = ("surveys", "intent_to_move", "push", "funnel", "premium_ladder", "journey_rules")
DESK_TABLES = ("desk", "desk_channels", "desk_categories")
OPERATIONS_TABLES = ("budgets", "travel_claims", "travel_claims_by_program", *DESK_TABLES)
PROMOTION_TABLES = ("sources", "portal")
TABLE_KEYS = (*OWN_TABLES, *wallet_analysis.TABLE_KEYS, *SURVEY_TABLES, *DESK_TABLES, *RECORD_TABLE_KEYS,
              *PROMOTION_TABLES)


def tie_label(key: str) -> str:
    return str(TIES[key]) if key in TIES else _("None chosen")


def prefecture_label(code: str) -> str:
    return prefecture_name(code, current_locale.get()) or _("Not given")


def _cell(value):
    """Empty where there is no figure (no target, nobody invited), so a spreadsheet sums the rest."""
    return "" if value is None else value


def _claims_table(figures: Dashboard, key: str) -> Table:
    """The travel subsidy (seed 000 §8(2)) per area or per program: claims, and the yen claimed, approved and paid."""
    claims = figures.travel_claims
    counts = [_("Claims"), _("Not decided yet"), _("Declined"), _("Claimed (yen)"), _("Approved (yen)"), _("Paid (yen)")]
    if key == "travel_claims":
        return Table(key, _("Travel subsidy per area"), [_("Area"), *counts], [
            [a.name, a.claims, a.waiting, a.declined, a.claimed, a.approved, a.paid] for a in claims.by_area])
    return Table(key, _("Travel subsidy per program"), [_("Program"), _("Area"), *counts], [
        [p.name, p.area_name, p.claims, p.waiting, p.declined, p.claimed, p.approved, p.paid] for p in claims.by_program])


def _operations_table(figures: Dashboard, key: str) -> Table:
    """The secretariat's work: 受入支援 budgets (seed 000 §8(1)), the travel subsidy (§8(2)), and the desk's year
    (seed 004 §4(1)) for the whole region whatever area is chosen, as the desk has no areas."""
    if key in ("travel_claims", "travel_claims_by_program"):
        return _claims_table(figures, key)
    if key == "budgets":
        headers = [_("Area"), _("Budget (yen)"), _("Paid or promised (yen)"), _("Confirmed (yen)"), _("Left (yen)"),
                   _("Used (%)")]
        return Table(key, _("Hosting budgets"), headers, [
            [b.area_name, b.amount, b.spent, b.confirmed, b.remaining, b.percent] for b in figures.budgets
        ])
    if key == "desk":
        d = figures.desk
        return Table(key, _("The consultation desk"), [_("Figure"), _("Value")], [
            [_("Inquiries in the year"), d.total],
            [_("Answered by the desk"), d.answered],
            [_("Hours to the first answer (median)"), _cell(d.median_hours_to_first_answer)],
            [_("Not closed yet"), d.still_open],
            *([_("Now: %(status)s", status=status_label(code)), n] for code, n in d.by_status),
        ])
    if key == "desk_channels":
        return Table(key, _("Inquiries by how they reached the desk"), [_("Channel"), _("Inquiries")],
                     [[channel_label(code), n] for code, n in figures.desk.by_channel])
    return Table(key, _("Inquiries by subject"), [_("Subject"), _("Inquiries")],
                 [[category_label(code), n] for code, n in figures.desk.by_category])


def month_label(first: date, skeleton: str = "yMMM") -> str:
    """"2026年4月", "Apr 2026" (or "4月", "Apr" with the skeleton "MMM")."""
    return format_skeleton(skeleton, first, locale=babel_locale(current_locale.get()))


def source_label(source: str) -> str:
    return source or _("Came by themselves (no campaign)")


def _promotion_table(figures: Dashboard, key: str) -> Table:
    """Promotion by source (seed 004 §4(4)) and the portal's months (seed 004 §4(5)), for the whole region."""
    if key == "sources":
        headers = [_("Source"), _("Kind"), _("Visits"), _("Registrations"), _("Registered of visits (%)"),
                   _("Pass activations"), _("Program applications"), _("Premium at the end of the year")]
        return Table(key, _("Promotion by source"), headers, [
            [source_label(s.source), " / ".join(kind_label(k) for k in s.kinds), _cell(s.visits), s.registrations,
             _cell(percent(s.registrations, s.visits or 0)), s.activations, s.applications, s.premium]
            for s in figures.sources
        ])
    headers = [_("Month"), _("Articles published"), _("Programs published"), _("Changes to the portal"),
               _("Views of the portal"), _("Views of program pages"), _("Views of articles"), _("Views in all")]
    return Table(key, _("The portal month by month"), headers, [
        [month_label(m.month), m.articles, m.programs, m.portal_edits, *m.views, m.total_views]
        for m in figures.portal
    ])


def _survey_table(figures: Dashboard, key: str) -> Table:
    """What came of the year's programs for the people in them: surveys, reach, the funnel and the ladder."""
    if key == "surveys":
        headers = [_("Survey"), _("Opened on"), _("Invited"), _("Responses"), _("Response rate (%)")]
        return Table(key, _("Survey responses"), headers, [
            [s.title, s.opens_on.isoformat(), s.invitations, s.responses, _cell(s.rate)] for s in figures.surveys
        ])
    if key == "intent_to_move":
        return Table(key, _("Intent to move (survey answers)"), [_("Answer"), _("Responses")], [
            [o.label, o.count] for o in figures.intent
        ])
    if key == "push":
        p = figures.push
        return Table(key, _("Push notification reach"), [_("Figure"), _("Value")], [
            [_("Members registered by the end of the year"), p.members],
            [_("Members with push turned on"), p.members_with_device],
            [_("Devices"), p.devices],
            [_("Reach (%)"), _cell(p.reach)],
            [_("Notifications sent in the year"), p.notifications],
            [_("Deliveries to devices"), p.deliveries],
            [_("Delivered"), p.delivered],
        ])
    if key == "funnel":
        first = figures.funnel[0].count if figures.funnel else 0
        headers = [_("Step"), _("Number of members"), _("Of the first step (%)"), _("Of the step before (%)")]
        rows = []
        for index, step in enumerate(figures.funnel):
            before = figures.funnel[index - 1].count if index else step.count
            rows.append([str(FUNNEL_LABELS[step.key]), step.count, _cell(percent(step.count, first)),
                         _cell(percent(step.count, before))])
        return Table(key, _("From the first offer use to the premium tier"), headers, rows)
    if key == "journey_rules":
        return Table(key, _("Journey rules this year"), [_("Rule"), _("Fired"), _("Went on to the next rung")],
                     [[str(journey_rules.LABELS[row.rule]), row.fired, "" if row.next_rung is None else row.next_rung]
                      for row in figures.journeys])
    return Table(key, _("The premium ladder this year"), [_("Step"), _("Number")],
                 [[str(LADDER_LABELS[step.key]), step.count] for step in figures.premium_ladder])


def _record_table(figures: Dashboard, key: str) -> Table:
    return record.build_table(figures.record, key)


# The tables of a section built by its own function, by key.
SECTION_TABLES = {**dict.fromkeys(OPERATIONS_TABLES, _operations_table), **dict.fromkeys(PROMOTION_TABLES, _promotion_table),
                  **dict.fromkeys(SURVEY_TABLES, _survey_table), **dict.fromkeys(RECORD_TABLE_KEYS, _record_table)}


def build_table(figures: Dashboard, key: str) -> Table:
    """One table in the current language: the page shows it, the CSV and the report use the same rows."""
    if key in wallet_analysis.TABLE_KEYS:
        return wallet_analysis.build_table(figures.wallet, key)
    if key in SECTION_TABLES:
        return SECTION_TABLES[key](figures, key)
    if key == "targets":
        headers = [_("Figure"), _("Target"), _("Actual"), _("Achieved (%)")]
        return Table(key, _("Targets and actual figures"), headers, [
            [metric_label(m.key), _cell(m.target), _cell(m.actual), _cell(m.percent)] for m in figures.metrics
        ])
    if key == "weekly":
        headers = [_("Week from"), *(metric_label(k) for k in TREND_METRICS)]
        series = [figures.metric(k).weekly for k in TREND_METRICS]
        return Table(key, _("Cumulative figures per week"), headers, [
            [first.isoformat(), *(_cell(s[i]) for s in series)]
            for i, first in enumerate(figures.week_starts) if series[0][i] is not None
        ])
    if key == "registrations_by_prefecture":
        return Table(key, _("Registrations by home prefecture"), [_("Home prefecture"), _("Number of members")], [
            [prefecture_label(c.key), c.count] for c in figures.registrations_by_prefecture
        ])
    if key == "registrations_by_tie":
        return Table(key, _("Registrations by tie to the region"), [_("Tie to the region"), _("Number of members")], [
            [tie_label(c.key), c.count] for c in figures.registrations_by_tie
        ])
    if key == "participants_by_area":
        headers = [_("Area"), _("Number of programs"), _("Participants"), _("People"), _("Target"), _("Achieved (%)")]
        return Table(key, _("Participants per area"), headers, [
            [a.name, a.programs, a.participants, a.people, _cell(a.target), _cell(a.percent)] for a in figures.areas
        ])
    raise KeyError(key)


def build_tables(figures: Dashboard) -> list[Table]:
    return [build_table(figures, key) for key in TABLE_KEYS]


def csv_filename(key: str, figures: Dashboard) -> str:
    area = f"-area{figures.area_id}" if figures.area_id else ""
    return f"kpi-fy{figures.fiscal_year}{area}-{key.replace('_', '-')}.csv"


async def export_csv(actor_id: int, key: str, selection: Selection, now: datetime) -> tuple[str, str]:
    """(file name, CSV text) of one table, with Japanese headers; the export is audited."""
    if key not in TABLE_KEYS:
        raise KeyError(key)
    figures = await dashboard(selection.fiscal_year, selection.area_id)
    with exports.csv_language():
        table = build_table(figures, key)
    detail = {"table": key, "fiscal_year": selection.fiscal_year, "area": selection.area_id, "rows": len(table.rows)}
    await exports.record_export(actor_id, "kpi", key, detail, now)
    return csv_filename(key, figures), exports.csv_text(table.headers, table.rows)

