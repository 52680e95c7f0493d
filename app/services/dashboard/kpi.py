"""The KPI dashboard: the secretariat's yearly targets and the figures against them (seed 000 §8(1), §9;
seed 004 §4(6)).

A fiscal year runs from April 1 to March 31 in Tokyo. What each figure counts:

- registrations: members who registered in the year (an account deleted since still counts: the
  registration happened, and last year's figures must not shrink when someone leaves);
- participants: attendances (application status "attended", dated in the year) at programs of an area;
  a person attending two programs counts twice, and the distinct people are shown beside;
- activations and redemptions: the entry pass figures of `wallet_analysis` (undone uses never count);
- survey response rate: responses / invitations of the surveys opened in the year;
- intent to move: a response that chose any option of a question keyed "intent_to_move" other than its
  last option, which is the "not considering it" answer;
- push reach: members registered by the end of the year who have a device subscribed (subscriptions of
  gone devices are deleted, so every stored one is live) / all those members;
- the funnel: members whose first offer use ever fell in the year → of them, those who applied to a
  program in the year → attended one → stated an intent to move (anonymous surveys are never linked to
  a person) → hold the premium tier at the end of the year (or today, for the running year).

The area filter narrows what has an area: participants and programs, registrations (members following
the area), surveys (of the area's programs, or addressed to its participants or followers) and the
funnel's program steps. Shops have no area, so the entry pass figures and push reach stay region-wide.

Figures are computed in Python over the rows of the year (SQLite and PostgreSQL differ in date
functions); `dashboard()` is the one entry point and returns plain values that compare with ==.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.i18n import current_locale, format_date, to_tokyo
from app.i18n import gettext as _
from app.i18n import lazy_gettext as _l
from app.services.membership.membership import effective_tier
from app.services.programs import areas
from app.services.programs.activities import fiscal_year_bounds, fiscal_year_of
from app.services.shared import charts, clock, exports
from app.services.shared.charts import Bar
from app.services.shared.reference import TIES, prefecture_name
from app.services.shared.refusals import FormInvalid
from app.services.wallet import analysis as wallet_analysis
from app.services.wallet.analysis import Period, Table
from db.engine import atomic, is_unique_violation
from db.tables import (
    Application,
    AreaFollow,
    AuditLog,
    Delivery,
    KpiTarget,
    Member,
    Notification,
    Program,
    PushSubscription,
    Redemption,
    Survey,
    SurveyAnswer,
    SurveyInvitation,
    SurveyQuestion,
    SurveyResponse,
)

REGION = 0  # KpiTarget.area_id of a target for the whole region
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
# Participants are targeted per area (about ten per program); the region's target is their sum.
AREA_METRICS = ("participants",)
MAX_TARGET = 10_000_000
INTENT_KEY = "intent_to_move"
HELD_STATUSES = ("published", "closed", "completed")  # programs that took place or are taking place
FUNNEL_STEPS = ("first_use", "applied", "attended", "intent", "premium")
FUNNEL_LABELS = {
    "first_use": _l("Used an offer for the first time"),
    "applied": _l("Applied to a program"),
    "attended": _l("Attended a program"),
    "intent": _l("Stated an intent to move"),
    "premium": _l("Premium tier"),
}
NO_TIE = "none"
FIRST_YEAR, LAST_YEAR = wallet_analysis.FIRST_YEAR, wallet_analysis.LAST_YEAR - 1


# Figures --------------------------------------------------------------------------------------------


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


def _metric(key: str, actual: int, target: int | None, daily: list[int], period: Period, as_of: date) -> Metric:
    return Metric(key, actual, target, percent(actual, target) if target else None,
                  weekly_cumulative(daily, period, as_of))


async def targets(fiscal_year: int) -> dict[tuple[str, int], int]:
    rows = await KpiTarget.select(KpiTarget.metric, KpiTarget.area_id, KpiTarget.value).where(
        KpiTarget.fiscal_year == fiscal_year
    )
    return {(r["metric"], r["area_id"]): r["value"] for r in rows}


async def _followers(area_id: int) -> set[int]:
    return {r["member"] for r in await AreaFollow.select(AreaFollow.member).where(AreaFollow.area == area_id)}


async def _registrations(start: datetime, end: datetime, area_id: int | None) -> list[dict]:
    members = await Member.select(Member.id, Member.created_at, Member.home_prefecture, Member.ties).where(
        (Member.created_at >= start) & (Member.created_at < end)
    ).output(load_json=True)
    if area_id:
        followers = await _followers(area_id)
        members = [m for m in members if m["id"] in followers]
    return members


def _by_prefecture(members: list[dict]) -> tuple[Count, ...]:
    counts = Counter(m["home_prefecture"] or "" for m in members)
    return tuple(Count(code, n) for code, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _by_tie(members: list[dict]) -> tuple[Count, ...]:
    """People per tie (a member may name several); every tie is listed, so the chart keeps its shape."""
    counts = Counter(tie for m in members for tie in set(m["ties"] or [NO_TIE]))
    return tuple(Count(tie, counts[tie]) for tie in (*TIES, NO_TIE))


async def _areas(area_id: int | None) -> list[dict]:
    rows = await areas.choices()
    return [row for row in rows if row["id"] == area_id] if area_id else rows


async def _participations(start: datetime, end: datetime, area_id: int | None) -> list[dict]:
    query = Application.select(
        Application.member, Application.attended_at, Application.program.area.as_alias("area")
    ).where((Application.status == "attended") & (Application.attended_at >= start) & (Application.attended_at < end))
    if area_id:
        query = query.where(Application.program.area == area_id)
    return await query


async def _area_rows(areas: list[dict], attended: list[dict], start: datetime, end: datetime,
                     goals: dict[tuple[str, int], int]) -> tuple[AreaRow, ...]:
    held = Counter(r["area"] for r in await Program.select(Program.area).where(
        (Program.starts_at >= start) & (Program.starts_at < end) & Program.status.is_in(list(HELD_STATUSES))
    ))
    per_area = Counter(r["area"] for r in attended)
    people: dict[int, set[int]] = {}
    for r in attended:
        people.setdefault(r["area"], set()).add(r["member"])
    rows = []
    for area in areas:
        target = goals.get(("participants", area["id"]))
        actual = per_area[area["id"]]
        rows.append(AreaRow(area["id"], area["name"], held[area["id"]], actual, len(people.get(area["id"], ())),
                            target, percent(actual, target) if target else None))
    return tuple(rows)


def _survey_in_area(survey: dict, area_id: int) -> bool:
    target = survey["target"] if isinstance(survey["target"], dict) else {}
    return survey["program_area"] == area_id or str(target.get("area", "")) == str(area_id)


@dataclass(frozen=True)
class _SurveyFigures:
    rows: tuple[SurveyRow, ...]
    invitations: int
    responses: int
    intent: tuple[IntentOption, ...]
    answered: int
    stated: int
    intending_accounts: frozenset[int]  # named (non-anonymous) respondents with an intent to move


async def _surveys(start: datetime, end: datetime, area_id: int | None) -> _SurveyFigures:
    surveys = await Survey.select(
        Survey.id, Survey.title, Survey.opens_at, Survey.anonymous, Survey.target,
        Survey.program.area.as_alias("program_area"),
    ).where(
        (Survey.opens_at >= start) & (Survey.opens_at < end) & (Survey.status != "draft")
    ).order_by(Survey.opens_at).order_by(Survey.id).output(load_json=True)
    if area_id:
        surveys = [s for s in surveys if _survey_in_area(s, area_id)]
    if not surveys:
        return _SurveyFigures((), 0, 0, (), 0, 0, frozenset())
    ids = [s["id"] for s in surveys]
    invited = Counter(r["survey"] for r in await SurveyInvitation.select(SurveyInvitation.survey).where(
        SurveyInvitation.survey.is_in(ids)))
    responses = await SurveyResponse.select(SurveyResponse.id, SurveyResponse.survey, SurveyResponse.account).where(
        SurveyResponse.survey.is_in(ids))
    answered = Counter(r["survey"] for r in responses)
    rows = tuple(
        SurveyRow(s["title"], to_tokyo(s["opens_at"]).date(), invited[s["id"]], answered[s["id"]],
                  percent(answered[s["id"]], invited[s["id"]]))
        for s in surveys
    )

    questions = await SurveyQuestion.select(SurveyQuestion.id, SurveyQuestion.survey, SurveyQuestion.options).where(
        (SurveyQuestion.key == INTENT_KEY) & SurveyQuestion.survey.is_in(ids)
    ).output(load_json=True)
    order = {survey_id: index for index, survey_id in enumerate(ids)}
    questions.sort(key=lambda q: (order[q["survey"]], q["id"]))
    chosen: dict[int, list[tuple[int, int]]] = {}  # response → (question, choice) pairs
    if questions:
        for a in await SurveyAnswer.select(SurveyAnswer.response, SurveyAnswer.question, SurveyAnswer.choice).where(
            SurveyAnswer.question.is_in([q["id"] for q in questions]) & SurveyAnswer.choice.is_not_null()
        ):
            chosen.setdefault(a["response"], []).append((a["question"], a["choice"]))

    # Options are counted by their label, in the order they first appear; the last is "not considering it".
    labels: dict[str, IntentOption] = {}
    for q in questions:
        for index, label in enumerate(q["options"] or []):
            if label not in labels:
                labels[label] = IntentOption(label, 0, index < len(q["options"]) - 1)
    options = {q["id"]: q["options"] or [] for q in questions}
    counts: Counter[str] = Counter()
    stated = 0
    intending: set[int] = set()
    anonymous = {s["id"] for s in surveys if s["anonymous"]}
    by_id = {r["id"]: r for r in responses}
    for response_id, picks in chosen.items():
        valid = [(q, c) for q, c in picks if 0 <= c < len(options[q])]
        for question_id, choice in valid:
            counts[options[question_id][choice]] += 1
        if any(choice < len(options[q]) - 1 for q, choice in valid):
            stated += 1
            response = by_id.get(response_id)
            if response and response["account"] and response["survey"] not in anonymous:
                intending.add(response["account"])
    intent = tuple(IntentOption(o.label, counts[o.label], o.intent) for o in labels.values())
    return _SurveyFigures(rows, sum(invited.values()), len(responses), intent, len(chosen), stated,
                          frozenset(intending))


async def _push(end: datetime, start: datetime) -> PushReach:
    members = {r["account"] for r in await Member.select(Member.account).where(
        (Member.created_at < end) & (Member.account.status == "active"))}
    devices = [r["account"] for r in await PushSubscription.select(PushSubscription.account).where(
        PushSubscription.created_at < end) if r["account"] in members]
    notifications = [r["id"] for r in await Notification.select(Notification.id).where(
        (Notification.send_at >= start) & (Notification.send_at < end) & (Notification.status == "fanned_out"))]
    statuses = [r["status"] for r in await Delivery.select(Delivery.status).where(
        Delivery.notification.is_in(notifications))] if notifications else []
    with_device = len(set(devices))
    return PushReach(len(members), with_device, len(devices), percent(with_device, len(members)),
                     len(notifications), len(statuses), statuses.count("sent"))


async def _funnel(start: datetime, end: datetime, area_id: int | None, intending_accounts: frozenset[int],
                  as_of: date) -> tuple[Count, ...]:
    first_use: dict[int, datetime] = {}
    for r in await Redemption.select(Redemption.wallet_pass.member.as_alias("member"), Redemption.redeemed_at).where(
        (Redemption.redeemed_at < end) & Redemption.undone_at.is_null()
    ):
        if r["member"] not in first_use or r["redeemed_at"] < first_use[r["member"]]:
            first_use[r["member"]] = r["redeemed_at"]
    step = {member for member, moment in first_use.items() if moment >= start}
    counts = [Count("first_use", len(step))]

    in_year = (Application.created_at >= start) & (Application.created_at < end)
    attended_in_year = (Application.status == "attended") & (Application.attended_at >= start) & (
        Application.attended_at < end)
    for key, condition in (("applied", in_year), ("attended", attended_in_year)):
        query = Application.select(Application.member).where(condition)
        if area_id:
            query = query.where(Application.program.area == area_id)
        step &= {r["member"] for r in await query}
        counts.append(Count(key, len(step)))

    members = await Member.select(Member.id, Member.account, Member.tier, Member.premium_until).where(
        Member.id.is_in(list(step))) if step else []
    step = {m["id"] for m in members if m["account"] in intending_accounts}
    counts.append(Count("intent", len(step)))
    premium = {m["id"] for m in members if m["id"] in step and effective_tier(m, as_of) == "premium"}
    counts.append(Count("premium", len(premium)))
    return tuple(counts)


async def dashboard(fiscal_year: int, area_id: int | None) -> Dashboard:
    """Every figure of the dashboard for one fiscal year, for the whole region or one area."""
    period = fiscal_period(fiscal_year)
    start, end = fiscal_year_bounds(fiscal_year)
    as_of = min(to_tokyo(clock.now()).date(), period.end)
    goals = await targets(fiscal_year)
    areas = await _areas(area_id)
    area_name = areas[0]["name"] if area_id and areas else ""

    members = await _registrations(start, end, area_id)
    attended = await _participations(start, end, area_id)
    area_rows = await _area_rows(areas, attended, start, end, goals)
    wallet = await wallet_analysis.analyse(period)
    surveys = await _surveys(start, end, area_id)

    if area_id:
        participants_target = goals.get(("participants", area_id))
    else:
        area_targets = [value for (metric, area), value in goals.items() if metric == "participants" and area != REGION]
        participants_target = sum(area_targets) if area_targets else None

    def region_target(metric: str) -> int | None:
        """Targets other than participants are set for the region only; an area's view shows none of them."""
        return None if area_id else goals.get((metric, REGION))

    activations = sum(wallet.activations_by_day)
    rate = percent(surveys.responses, surveys.invitations)
    rate_target = region_target("response_rate")
    metrics = (
        _metric("registrations", len(members), region_target("registrations"),
                daily_counts([m["created_at"] for m in members], period), period, as_of),
        _metric("participants", len(attended), participants_target,
                daily_counts([a["attended_at"] for a in attended], period), period, as_of),
        _metric("activations", activations, region_target("activations"), wallet.activations_by_day, period, as_of),
        _metric("redemptions", wallet.total, region_target("redemptions"), wallet.by_day, period, as_of),
        Metric("response_rate", rate, rate_target,
               percent(surveys.responses * 100, surveys.invitations * rate_target) if rate_target else None, ()),
    )
    return Dashboard(
        fiscal_year=fiscal_year,
        area_id=area_id,
        area_name=area_name,
        start=period.start,
        end=period.end,
        as_of=as_of,
        week_starts=week_starts(period),
        metrics=metrics,
        registrations_by_prefecture=_by_prefecture(members),
        registrations_by_tie=_by_tie(members),
        areas=area_rows,
        wallet=wallet,
        surveys=surveys.rows,
        intent=surveys.intent,
        intent_answered=surveys.answered,
        intent_stated=surveys.stated,
        push=await _push(end, start),
        funnel=await _funnel(start, end, area_id, surveys.intending_accounts, as_of),
    )


# Filters ---------------------------------------------------------------------------------------------


async def fiscal_years(current: int) -> list[int]:
    """The years the filter offers, newest first: next year back to the first registration or target, and at
    least last year (to compare with, or to enter its targets after the fact)."""
    first = current - 1
    member = await Member.select(Member.created_at).order_by(Member.created_at).first()
    if member:
        first = min(first, fiscal_year_of(member["created_at"]))
    target = await KpiTarget.select(KpiTarget.fiscal_year).order_by(KpiTarget.fiscal_year).first()
    if target:
        first = min(first, target["fiscal_year"])
    return list(range(current + 1, max(first, FIRST_YEAR) - 1, -1))


def current_fiscal_year() -> int:
    return fiscal_year_of(clock.now())


def parse_year(text: str) -> int | None:
    """A fiscal year as typed in an address or a hidden field; None if it is not one we can show."""
    text = (text or "").strip()
    if text.isascii() and text.isdigit() and FIRST_YEAR <= int(text) <= LAST_YEAR:
        return int(text)
    return None


@dataclass(frozen=True)
class Selection:
    fiscal_year: int
    area_id: int | None


def parse_selection(year_text: str, area_text: str, current_year: int, area_ids: set[int]) -> Selection:
    """The filter as typed in the address; an empty year is the running fiscal year, an empty area the region."""
    year_text, area_text = (year_text or "").strip(), (area_text or "").strip()
    errors: dict[str, str] = {}
    year = parse_year(year_text) if year_text else current_year
    area = None
    if year is None:
        year = current_year
        errors["year"] = _("Choose a fiscal year from the list.")
    if area_text:
        if area_text.isascii() and area_text.isdigit() and int(area_text) in area_ids:
            area = int(area_text)
        else:
            errors["area"] = _("Choose an area from the list.")
    if errors:
        raise FormInvalid(errors, {"year": year_text, "area": area_text})
    return Selection(year, area)


# Targets ---------------------------------------------------------------------------------------------


def target_field(metric: str, area_id: int = REGION) -> str:
    """The form field of a target: "registrations", or "participants_3" for an area's."""
    return metric if area_id == REGION else f"{metric}_{area_id}"


def target_keys(area_ids: list[int]) -> list[tuple[str, int]]:
    """Every target the form sets: the region's for each metric but participants, which are set per area."""
    region = [(metric, REGION) for metric in METRICS if metric not in AREA_METRICS]
    return region + [(metric, area_id) for metric in AREA_METRICS for area_id in area_ids]


def _number(text: str) -> str:
    """Full-width digits and thousands separators as people type them: "１，２００" → "1200"."""
    return unicodedata.normalize("NFKC", text).replace(",", "").replace(" ", "")


def parse_targets(form: dict, area_ids: list[int]) -> dict[tuple[str, int], int | None]:
    """Non-negative whole numbers, the response rate at most 100; an empty field removes that target."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    parsed: dict[tuple[str, int], int | None] = {}
    for metric, area_id in target_keys(area_ids):
        name = target_field(metric, area_id)
        raw = str(form.get(name, "") or "").strip()
        values[name] = raw
        text = _number(raw)
        if not text:
            parsed[(metric, area_id)] = None
            continue
        ceiling = 100 if metric == "response_rate" else MAX_TARGET
        if not (text.isascii() and text.isdigit()):
            errors[name] = (_("Enter a whole percentage from 0 to 100.") if metric == "response_rate"
                            else _("Enter a whole number of 0 or more, such as 120."))
        elif int(text) > ceiling:
            errors[name] = (_("A rate cannot be more than 100%.") if metric == "response_rate"
                            else _("Enter a number of at most %(max)s.", max=f"{MAX_TARGET:,}"))
        else:
            parsed[(metric, area_id)] = int(text)
    if errors:
        raise FormInvalid(errors, values)
    return parsed


class TargetsConflict(Exception):
    """Someone else saved this year's targets at the same moment."""


async def save_targets(fiscal_year: int, parsed: dict[tuple[str, int], int | None], actor_id: int, now: datetime) -> None:
    """All targets of the form, or none: set, changed and cleared in one transaction, and audited."""
    current = await targets(fiscal_year)
    changes = {f"{metric}:{area}": value for (metric, area), value in parsed.items() if current.get((metric, area)) != value}
    if not changes:
        return
    try:
        async with atomic(KpiTarget._meta.db):
            for (metric, area_id), value in parsed.items():
                where = ((KpiTarget.fiscal_year == fiscal_year) & (KpiTarget.metric == metric)
                         & (KpiTarget.area_id == area_id))
                if value is None:
                    await KpiTarget.delete().where(where)
                elif (metric, area_id) in current:
                    await KpiTarget.update({KpiTarget.value: value, KpiTarget.updated_by: actor_id,
                                            KpiTarget.updated_at: now}).where(where)
                else:
                    await KpiTarget.insert(KpiTarget(fiscal_year=fiscal_year, metric=metric, area_id=area_id,
                                                     value=value, updated_by=actor_id, updated_at=now))
            await AuditLog.insert(AuditLog(actor=actor_id, action="kpi.targets", target_type="fiscal_year",
                                           target_id=str(fiscal_year), detail=changes, created_at=now))
    except Exception as exc:
        if is_unique_violation(exc):
            raise TargetsConflict() from exc
        raise


# Tables and CSV -------------------------------------------------------------------------------------

OWN_TABLES = ("targets", "weekly", "registrations_by_prefecture", "registrations_by_tie", "participants_by_area")
SURVEY_TABLES = ("surveys", "intent_to_move", "push", "funnel")
TABLE_KEYS = (*OWN_TABLES, *wallet_analysis.TABLE_KEYS, *SURVEY_TABLES)


def metric_label(key: str) -> str:
    return str(METRIC_LABELS[key])


def tie_label(key: str) -> str:
    return str(TIES[key]) if key in TIES else _("None chosen")


def prefecture_label(code: str) -> str:
    return prefecture_name(code, current_locale.get()) or _("Not given")


def _cell(value):
    """Empty where there is no figure (no target, nobody invited), so a spreadsheet sums the rest."""
    return "" if value is None else value


def build_table(figures: Dashboard, key: str) -> Table:
    """One table in the current language: the page shows it, the CSV and the report use the same rows."""
    if key in wallet_analysis.TABLE_KEYS:
        return wallet_analysis.build_table(figures.wallet, key)
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


# Charts and labels ----------------------------------------------------------------------------------


def fiscal_year_label(year: int) -> str:
    """"2026年度（令和8年度）" in Japanese, "FY2026" in English: how municipal documents name a year."""
    era = year - 2018  # Reiwa 1 began in 2019
    if era < 1:
        return _("FY%(year)d", year=year)
    return _("FY%(year)d (Reiwa %(era)s)", year=year, era="元" if era == 1 and current_locale.get() == "ja" else str(era))


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
              "prefectures", "ties", "areas", "shops", "offers", "weekday-hour", "intent", "funnel")
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
