"""The KPI dashboard's figures for one fiscal year, against the secretariat's yearly targets (seed 000
§8(1), §9; seed 004 §4(6)).

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
functions); `dashboard()` is the one entry point and returns the plain values of `figures`, which compare
with ==. The survey figures are counted in `survey_figures`, the targets kept in `targets`; `tables` and
`display` turn the figures into tables, CSV files and charts.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from app.i18n import to_tokyo
from app.services.activities import progress
from app.services.campaigns import figures as campaign_figures
from app.services.dashboard.figures import (
    AreaRow,
    Count,
    Dashboard,
    JourneyRow,
    Metric,
    PushReach,
    daily_counts,
    fiscal_period,
    percent,
    week_starts,
    weekly_cumulative,
)
from app.services.dashboard.record import HELD_STATUSES, year_record
from app.services.dashboard.survey_figures import survey_figures
from app.services.dashboard.targets import REGION, targets
from app.services.desk.figures import desk_figures
from app.services.journeys import premium_invitation
from app.services.journeys import round as journeys
from app.services.membership.membership import effective_tier
from app.services.premium import lapse
from app.services.programs import areas
from app.services.programs.activities import fiscal_year_bounds
from app.services.programs.budgets import area_budgets
from app.services.shared import clock
from app.services.shared.reference import TIES
from app.services.subsidy import figures as subsidy_figures
from app.services.wallet import analysis as wallet_analysis
from app.services.wallet.analysis import Period
from db.tables import (
    Application,
    AreaFollow,
    Delivery,
    JourneyEvent,
    Member,
    Notification,
    PremiumApplication,
    Program,
    PushSubscription,
    Redemption,
)

NO_TIE = "none"


def _metric(key: str, actual: int, target: int | None, daily: list[int], period: Period, as_of: date) -> Metric:
    return Metric(key, actual, target, percent(actual, target) if target else None,
                  weekly_cumulative(daily, period, as_of))


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


async def _premium_ladder(fiscal_year: int, start: datetime, end: datetime) -> tuple[Count, ...]:
    """The year's premium steps, region-wide (an application has no area): who had three activities, who was
    invited, applied, granted premium, renewed, and whose premium ended."""
    eligible = len(await progress.active_members(fiscal_year))
    in_year = (PremiumApplication.created_at >= start) & (PremiumApplication.created_at < end)
    decided = ((PremiumApplication.status == "approved") & (PremiumApplication.decided_at >= start)
               & (PremiumApplication.decided_at < end))
    fired = (JourneyEvent.fired_at >= start) & (JourneyEvent.fired_at < end)
    return (
        Count("eligible", eligible),
        Count("invited", await JourneyEvent.count().where(fired & (JourneyEvent.rule == premium_invitation.RULE))),
        Count("applied", await PremiumApplication.count().where(in_year)),
        Count("approved", await PremiumApplication.count().where(decided & (PremiumApplication.renewal == False))),  # noqa: E712
        Count("renewed", await PremiumApplication.count().where(decided & (PremiumApplication.renewal == True))),  # noqa: E712
        Count("lapsed", await JourneyEvent.count().where(fired & (JourneyEvent.rule == lapse.LAPSED))),
    )


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
    surveys = await survey_figures(start, end, area_id)

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
        premium_ladder=await _premium_ladder(fiscal_year, start, end),
        journeys=tuple(JourneyRow(rule, fired, next_rung)
                       for rule, (fired, next_rung) in (await journeys.figures(fiscal_year)).items()),
        desk=await desk_figures(start, end),
        record=await year_record(start, end, as_of, area_id),
        budgets=tuple(await area_budgets(fiscal_year, [area_id] if area_id else None)),
        sources=await campaign_figures.by_source(start, end, clock.year_months(period.start), as_of),
        portal=await campaign_figures.portal_months(start, end, clock.year_months(period.start)),
        travel_claims=await subsidy_figures.figures(fiscal_year, area_id),
    )
