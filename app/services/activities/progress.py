"""A member's local activities (担い手活動) as evidence for the premium tier: programs attended and check-ins
at designated activities that count, each activity once however many of its days the member came."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from app.i18n import lazy_gettext as _l
from app.i18n import to_tokyo
from app.services.programs.activities import fiscal_year_bounds, fiscal_year_of
from db.tables import Application, CheckIn, Member

PREMIUM_ACTIVITIES = 3  # a year, for the premium tier of ふるさと住民登録
# How an activity was recorded, as the member and the secretariat read it.
HOW_LABELS = {
    "attended": _l("Program attendance"),
    "code": _l("Checked in with the activity's code"),
    "card": _l("Member card scanned by the organizer"),
    "hand": _l("Recorded by the organizer"),
    "import": _l("From the online meeting's report"),
}
YEAR = timedelta(days=365)
EARLIEST = datetime(2000, 4, 1, tzinfo=timezone.utc)  # before any record: the start of "every earlier year"


@dataclass(frozen=True)
class Progress:
    fiscal_year: int
    this_fiscal_year: int  # activities since April
    last_twelve_months: int  # what premium asks for
    needed: int
    items: list[dict]  # this fiscal year's, oldest first

    @property
    def may_apply(self) -> bool:
        return self.last_twelve_months >= self.needed


async def evidence(member_ids: list[int], since: datetime, until: datetime) -> dict[int, list[dict]]:
    """Per member, each activity in [since, until) once, oldest first: {source: program | activity, id, title,
    kind, day, place, how (attended | code | card | hand | import)}."""
    if not member_ids:
        return {}
    attended = await Application.select(
        Application.member, Application.program.id.as_alias("program_id"), Application.program.title.as_alias("title"),
        Application.program.place.as_alias("place"), Application.attended_at,
    ).where(Application.member.is_in(member_ids) & (Application.status == "attended")
            & (Application.attended_at >= since) & (Application.attended_at < until))
    checked = await CheckIn.select(
        CheckIn.member, CheckIn.day, CheckIn.method, CheckIn.activity.id.as_alias("activity_id"),
        CheckIn.activity.title.as_alias("title"), CheckIn.activity.kind.as_alias("kind"),
        CheckIn.activity.place.as_alias("place"),
    ).where(CheckIn.member.is_in(member_ids) & (CheckIn.activity.counts_for_premium == True)  # noqa: E712
            & (CheckIn.day >= to_tokyo(since).date()) & (CheckIn.day < _day_of_end(until))).order_by(CheckIn.day)
    return _fold(member_ids, attended, checked, since, until)


def _fold(member_ids: list[int], attended: list[dict], checked: list[dict], since: datetime,
          until: datetime) -> dict[int, list[dict]]:
    """The rows of attendance and of check-ins (by day) that fall in [since, until), each activity once."""
    found: dict[int, dict[tuple[str, int], dict]] = {member_id: {} for member_id in member_ids}
    for row in attended:
        if since <= row["attended_at"] < until:
            found[row["member"]][("program", row["program_id"])] = {
                "source": "program", "id": row["program_id"], "title": row["title"], "kind": "program",
                "day": to_tokyo(row["attended_at"]).date(), "place": row["place"], "how": "attended"}
    first_day, end_day = to_tokyo(since).date(), _day_of_end(until)
    for row in checked:
        if first_day <= row["day"] < end_day:
            found[row["member"]].setdefault(("activity", row["activity_id"]), {
                "source": "activity", "id": row["activity_id"], "title": row["title"], "kind": row["kind"],
                "day": row["day"], "place": row["place"], "how": row["method"]})
    return {member_id: sorted(items.values(), key=lambda item: (item["day"], item["title"]))
            for member_id, items in found.items()}


# The card and the account page show a member's progress on every opening: this fiscal year's activities and
# the last twelve months' count. Both windows are read at once (they overlap) and folded apart by _fold, by
# two statements written out once here (the same text on SQLite and PostgreSQL, as evidence()'s queries but for
# one member): Piccolo building four joins cost ≈ 2.4 ms of CPU a page, these ≈ 0.3 ms.
MEMBER_ATTENDED_SQL = """
SELECT a.member, p.id AS program_id, p.title, p.place, a.attended_at
FROM application AS a JOIN program AS p ON p.id = a.program
WHERE a.member = {} AND a.status = 'attended' AND a.attended_at >= {} AND a.attended_at < {}
"""
MEMBER_CHECK_INS_SQL = """
SELECT c.member, c.day, c.method, t.id AS activity_id, t.title, t.kind, t.place
FROM check_in AS c JOIN activity AS t ON t.id = c.activity
WHERE c.member = {} AND t.counts_for_premium = {} AND c.day >= {} AND c.day < {}
ORDER BY c.day
"""


def _day_of_end(until: datetime) -> date:
    """The first day in Japan not in [since, until): `until` is a midnight in Japan or an instant today."""
    local = to_tokyo(until)
    return local.date() if local.time() == datetime.min.time() else local.date() + timedelta(days=1)


async def progress(member_id: int, now: datetime) -> Progress:
    year = fiscal_year_of(now)
    start, end = fiscal_year_bounds(year)
    since, until = min(start, now - YEAR), max(end, now)
    attended = await Application.raw(MEMBER_ATTENDED_SQL, member_id, since, until)
    checked = await CheckIn.raw(MEMBER_CHECK_INS_SQL, member_id, True, to_tokyo(since).date(), _day_of_end(until))
    this_year = _fold([member_id], attended, checked, start, end)[member_id]
    twelve = _fold([member_id], attended, checked, now - YEAR, now)[member_id]
    return Progress(year, len(this_year), len(twelve), PREMIUM_ACTIVITIES, this_year)


async def earlier_years(member_id: int, now: datetime) -> list[dict]:
    """The member's activities before this fiscal year: [{year, items}], newest year first, only years with any.
    An activity counts in the fiscal year of the first day the member came (as in evidence)."""
    start, _end = fiscal_year_bounds(fiscal_year_of(now))
    items = (await evidence([member_id], EARLIEST, start))[member_id]
    years: dict[int, list[dict]] = {}
    for item in items:
        years.setdefault(_fiscal_year_of_day(item["day"]), []).append(item)
    return [{"year": year, "items": years[year]} for year in sorted(years, reverse=True)]


def _fiscal_year_of_day(day: date) -> int:
    return day.year if day.month >= 4 else day.year - 1


async def activity_count(member_id: int, year: int) -> int:
    """Local activities in the fiscal year: programs attended and counted activities, each once."""
    start, end = fiscal_year_bounds(year)
    return len((await evidence([member_id], start, end))[member_id])


async def counts(since: datetime, until: datetime) -> dict[int, int]:
    """How many activities each member who took part in any in [since, until) has there, each activity once."""
    attended = await Application.select(Application.member).where(
        (Application.status == "attended") & (Application.attended_at >= since) & (Application.attended_at < until))
    checked = await CheckIn.select(CheckIn.member).where(
        (CheckIn.activity.counts_for_premium == True) & (CheckIn.day >= to_tokyo(since).date())  # noqa: E712
        & (CheckIn.day < _day_of_end(until)))
    candidates = sorted({row["member"] for row in [*attended, *checked]})
    return {member_id: len(items) for member_id, items in (await evidence(candidates, since, until)).items()}


async def active_members(year: int, minimum: int = PREMIUM_ACTIVITIES) -> list[dict]:
    """Members with at least `minimum` activities in the fiscal year: evidence for the premium tier."""
    start, end = fiscal_year_bounds(year)
    counted = await counts(start, end)
    wanted = [member_id for member_id, count in counted.items() if count >= minimum]
    if not wanted:
        return []
    members = await Member.select(Member.id, Member.member_no, Member.tier, Member.account.display_name).where(
        Member.id.is_in(wanted))
    return sorted(({**m, "activities": counted[m["id"]]} for m in members), key=lambda m: (-m["activities"], m["member_no"]))
