"""Demo local activities (担い手活動) and the premium ladder: activities of every kind with check-ins (one taking
check-ins today, so its code page has a code), a member at 2 / 3, a premium application waiting in the review
queue, a premium member 20 days before the end and one whose premium lapsed. Dates count back from today.
All or nothing, once (keyed by the first activity's title); after the KPI year, whose members it uses."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from app.demo.kpi import KPI_DEMO_MARK
from app.i18n import TOKYO, to_tokyo
from app.services.activities import progress
from app.services.premium import applications, lapse
from app.services.premium.applications import PremiumRequest
from app.services.shared import clock
from db.engine import atomic
from db.tables import Account, Activity, Area, CheckIn, JourneyEvent, Member, PremiumApplication

ORGANISER = "苫小牧市 協働推進課"
# (area slug, title, kind, first day from today, days, place, organiser, members checked in)
ACTIVITIES = [
    ("yufutsu", "勇払原野 湿原の木道補修ボランティア", "volunteer", -40, 1, "ウトナイ湖野生鳥獣保護センター前 集合",
     "ウトナイ湖サンクチュアリ友の会", 8),
    ("tarumae", "樽前山神社 例大祭の設営・片付けのお手伝い", "event", -75, 2, "樽前山神社 境内", "樽前地区連合町内会", 6),
    ("uenae-misawa", "植苗の農家さんと冬野菜の出荷作業", "business", -20, 3, "植苗 まるやま農園 作業場", "まるやま農園", 5),
    ("yufutsu", "ふるさと住民オンライン交流会「勇払の暮らしを語る」", "online", -12, 1, "", ORGANISER, 9),
    ("tarumae", "錦大沼公園 冬の遊歩道づくり", "volunteer", -2, 7, "錦大沼公園 管理棟前", "錦大沼公園 指定管理者", 3),
]
MAP = "https://www.google.com/maps/search/?api=1&query="


async def load_activity_demo() -> dict[str, int]:
    if await Activity.exists().where(Activity.title == ACTIVITIES[0][1]):
        return {}
    members = await Member.select(Member.id, Member.account).where(
        Member.account.webauthn_user_id.like(KPI_DEMO_MARK + "%")).order_by(Member.id)
    areas = {row["slug"]: row["id"] for row in await Area.select(Area.id, Area.slug)}
    if len(members) < 20 or any(slug not in areas for slug, *_ in ACTIVITIES):
        return {}
    now = clock.now()
    async with atomic(Activity._meta.db):
        check_ins = await _activities_and_check_ins(members[:12], areas, now)
    premium = await _ladder(members[12:], areas, now)
    return {"activities": len(ACTIVITIES), "check_ins": check_ins, "premium": premium}


async def _activities_and_check_ins(members: list[dict], areas: dict[str, int], now: datetime) -> int:
    """Each activity with some of the first demo members checked in, each in the way such an activity is."""
    today = to_tokyo(now).date()
    how = {"online": "import", "event": "card", "business": "hand"}
    recorded = 0
    for index, (slug, title, kind, first, days, place, organiser, count) in enumerate(ACTIVITIES):
        starts = today + timedelta(days=first)
        rows = await Activity.insert(Activity(
            title=title, kind=kind, area=areas[slug], starts_on=starts, ends_on=starts + timedelta(days=days - 1),
            place=place, map_url=MAP + place.split(" ")[0] if place else "", organiser=organiser, counts_for_premium=True,
            description=f"{organiser}と一緒に取り組む活動です。初めての方も歓迎します。", capacity=30 if kind != "online" else None,
        )).returning(Activity.id)
        for n, member in enumerate(members[index % 3:][:count]):
            day = min(starts + timedelta(days=n % days), today)
            at = datetime.combine(day, time(10, 15 + n), TOKYO)
            await CheckIn.insert(CheckIn(activity=rows[0]["id"], member=member["id"], day=day,
                                         method=how.get(kind, "code"), scanned_at=at, created_at=at,
                                         client_nonce=f"demo-{rows[0]['id']}-{member['id']}" if kind in ("volunteer",) else None,
                                         reason="受付名簿から記録" if kind == "business" else ""))
            recorded += 1
    return recorded


async def _check_in_all(member_id: int, titles: list[str], now: datetime) -> None:
    for title in titles:
        activity = await Activity.select(Activity.id, Activity.starts_on).where(Activity.title == title).first()
        day = activity["starts_on"]
        await CheckIn.insert(CheckIn(activity=activity["id"], member=member_id, day=day, method="code",
                                     scanned_at=datetime.combine(day, time(11, 0), TOKYO),
                                     client_nonce=f"demo-ladder-{activity['id']}-{member_id}"))


async def _ladder(members: list[dict], areas: dict[str, int], now: datetime) -> int:
    """The rungs, on demo members with no activity yet: 2 / 3; an application waiting; premium ending in 20
    days; premium lapsed last month."""
    fresh = []
    for member in members:
        if not (await progress.evidence([member["id"]], now - progress.YEAR, now))[member["id"]]:
            fresh.append(member)
        if len(fresh) == 4:
            break
    if len(fresh) < 4:
        return 0
    two_of_three, applying, ending, lapsed = fresh
    titles = [row[1] for row in ACTIVITIES]
    await _check_in_all(two_of_three["id"], titles[:2], now)
    await _check_in_all(applying["id"], titles[:3], now)
    await applications.apply(applying["id"], PremiumRequest("東京都世田谷区", [{"name": "山口県萩市", "state": "holding"}]),
                             "苫小牧市", now)
    staff = await Account.select(Account.id).where(Account.role == "staff").first()
    today = to_tokyo(now).date()
    for member, until in ((ending, today + timedelta(days=20)), (lapsed, today - timedelta(days=25))):
        await _check_in_all(member["id"], titles[1:4], now)
        valid_from = until - timedelta(days=364)
        decided = datetime.combine(valid_from, time(10, 0), TOKYO)
        rows = await PremiumApplication.insert(PremiumApplication(
            member=member["id"], status="approved", home_municipality="神奈川県横浜市", other_municipalities=[],
            evidence=[], decided_by=staff["id"] if staff else None, decided_at=decided, valid_from=valid_from,
            valid_until=until, created_at=decided - timedelta(days=3), updated_at=decided,
        )).returning(PremiumApplication.id)
        await PremiumApplication.update({PremiumApplication.certificate_no: f"P{valid_from:%Y}-{rows[0]['id']:06d}"}).where(
            PremiumApplication.id == rows[0]["id"])
        expired = until < today
        await Member.update({Member.tier: "basic" if expired else "premium", Member.premium_until: until}).where(
            Member.id == member["id"])
        if expired:
            await JourneyEvent.insert(JourneyEvent(rule=lapse.LAPSED, member=member["id"], cause=until.isoformat(),
                                                   fired_at=datetime.combine(until + timedelta(days=1), time(0, 5), TOKYO)))
    return 4
